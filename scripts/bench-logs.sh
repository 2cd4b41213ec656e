#!/usr/bin/env bash
# Following a chatty phase in the TUI over a real terminal (tmux, 120x40): a local phase prints
# RATE lines/s (each with the time it was written) for SECS seconds; tandem follows it in the Logs
# view. Reports bytes written to the terminal per second (these sessions run over SSH), tandem's
# CPU and RSS, and the lag from a line's writing to its appearance on screen (the newest line on
# screen, sampled every 100 ms with `tmux capture-pane`). With MODE `colour`, each line is what
# tqdm writes: coloured, redrawn in place with a carriage return before it ends (~290 bytes).
# usage: scripts/bench-logs.sh [RATE] [SECS] [plain|colour]
source "$(dirname "$0")/bench-env.sh"
RATE="${1:-1000}"
SECS="${2:-30}"
MODE="${3:-plain}"
command -v tmux >/dev/null || { echo "tmux is needed" >&2; exit 1; }
WORK="$(mktemp -d)"
SOCK="$WORK/tmux.sock"
SAMPLER=""
cleanup() { [ -z "$SAMPLER" ] || kill "$SAMPLER" 2>/dev/null || true; tmux -S "$SOCK" kill-server 2>/dev/null || true; rm -rf "$WORK" 2>/dev/null || { sleep 1; rm -rf "$WORK"; }; }
trap cleanup EXIT
export TANDEM_HOME="$WORK/home"
mkdir -p "$WORK/p"
cat > "$WORK/p/chatty.py" <<P
import sys, time
rate, secs, colour = $RATE, $SECS + 10, "$MODE" == "colour"
start = time.time(); i = 0
out = sys.stdout
def line(j, ts):
    if colour:
        bar = "\\x1b[32mline %d at %s\\x1b[0m |\\x1b[36m%s\\x1b[0m| %d/100 [00:01<00:01, 400it/s]"
        return (bar % (j, ts, "#####     ", 50) + "\\r" + bar % (j, ts, "##########", 100)
                + " \\x1b[1;31mloss=0.25\\x1b[0m residual=2.113e3\\n")
    return f"line {j} at {ts} residual=2.113e3 energy=34.1182 max=93.807\\n"
while time.time() - start < secs:
    n = int((time.time() - start) * rate) - i
    if n > 0:
        ts = f"{time.time():.3f}"
        out.write("".join([line(j, ts) for j in range(i, i + n)]))
        out.flush()
        i += n
    time.sleep(0.005)
P
bench_project "$WORK/p/tandem.toml" chatty "[\"python3\", \"$WORK/p/chatty.py\"]" '["true"]'
tmux -S "$SOCK" -f /dev/null new-session -d -s b -x 120 -y 40 "bash --norc --noprofile"
tmux -S "$SOCK" send-keys -t b "cd $WORK/p && TANDEM_HOME=$TANDEM_HOME TANDEM_FRAME_TIMES=$WORK/frames.txt exec $TANDEM" Enter
until tmux -S "$SOCK" capture-pane -p -t b | grep -q "1 Pipeline"; do sleep 0.1; done
PID=$(tmux -S "$SOCK" display-message -p -t b '#{pane_pid}')
# RSS from the start (the peak may come while the reader catches up), every 50 ms
( while kill -0 "$PID" 2>/dev/null; do awk -v t="$(date +%s.%N)" '/VmRSS/ {print t, $2}' "/proc/$PID/status" 2>/dev/null; sleep 0.05; done ) > "$WORK/rss_all.txt" &
SAMPLER=$!
tmux -S "$SOCK" send-keys -t b p
sleep 1
tmux -S "$SOCK" send-keys -t b 4
t0=$(date +%s)
until tmux -S "$SOCK" capture-pane -p -t b | grep -q "line [0-9]* at"; do
    sleep 0.1
    [ $(( $(date +%s) - t0 )) -lt 60 ] || { tmux -S "$SOCK" capture-pane -p -t b >&2; echo "no log lines on screen" >&2; exit 1; }
done
sleep 3
tmux -S "$SOCK" pipe-pane -t b -o "cat >> $WORK/bytes.out"
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
HZ=$(getconf CLK_TCK)
a=$(ticks)
: > "$WORK/frames.txt"
end=$(( $(date +%s) + SECS ))
while [ "$(date +%s)" -lt "$end" ]; do
    now=$(date +%s.%N)
    tmux -S "$SOCK" capture-pane -p -t b | grep -oE "line [0-9]+ at [0-9]+\.[0-9]{3}" | tail -1 \
        | awk -v now="$now" '{printf "%.0f\n", (now - $4) * 1000}' >> "$WORK/lag.txt"
    awk '/VmRSS/ {print $2}' "/proc/$PID/status" >> "$WORK/rss.txt"
    sleep 0.1
done
b=$(ticks)
tmux -S "$SOCK" pipe-pane -t b
BYTES=$(stat -c %s "$WORK/bytes.out" 2>/dev/null || echo 0)
RSS=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
LAG=$(median < "$WORK/lag.txt")
FR=$(sort -g "$WORK/frames.txt" | awk '{a[NR]=$1} END {printf "%d frames, median %.2f ms, p99 %.2f ms, max %.2f ms", NR, a[int((NR+1)/2)]/1000, a[int(NR*0.99)]/1000, a[NR]/1000}')
P95=$(sort -g "$WORK/lag.txt" | awk '{a[NR]=$1} END {print a[int(NR*0.95)]}')
awk -v a="$a" -v b="$b" -v hz="$HZ" -v s="$SECS" -v by="$BYTES" -v rss="$RSS" -v r="$RATE" -v lag="$LAG" -v p95="$P95" -v mode="$MODE" 'BEGIN {
  printf "following %d %s lines/s for %ds at 120x40: %.1f KB/s to the terminal, CPU %.1f%%, peak RSS %.1f MiB, lag write->screen median %d ms, p95 %d ms\n",
    r, mode, s, by / s / 1000, 100 * (b - a) / hz / s, rss / 1024, lag, p95 }'
echo "frames on the UI task (drawn, handed to the terminal writer): $FR"
echo "RSS during the run (MiB, every ~0.1 s): first $(head -1 "$WORK/rss.txt" | awk '{printf "%.1f", $1/1024}'), median $(median < "$WORK/rss.txt" | awk '{printf "%.1f", $1/1024}'), max $(sort -g "$WORK/rss.txt" | tail -1 | awk '{printf "%.1f", $1/1024}'), last $(tail -1 "$WORK/rss.txt" | awk '{printf "%.1f", $1/1024}')"
awk 'NR == 1 {t0 = $1} {if ($2 > m) {m = $2; at = $1 - t0}} END {printf "RSS peak since start %.1f MiB, %.1f s after the first frame\n", m / 1024, at}' "$WORK/rss_all.txt"
