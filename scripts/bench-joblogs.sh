#!/usr/bin/env bash
# Following a running Slurm job's log live, side by side in one run on one job of the test Slurm
# (started here on 127.0.0.1, stopped by PID at the end): turm (cargo install turm, built once into
# ~/.cache/tandem/tools) and tandem's Jobs view (8, Enter on the job) over the local transport and
# over SSH, each in its own tmux at 160x45, all at the same time. The job prints RATE lines/s,
# each with the time it was written. For each follower: CPU over SECS seconds, peak RSS and RSS at
# the start and end of the window (flat?), bytes written to the terminal, and how far behind the
# file the screen is, sampled every second (the newest line on screen against the newest in the
# file, in ms of the job's output), median and p95; then the ratios against turm.
# FOLLOWERS="tandem" measures only those (at 50 MB/s, say, where turm and a second tandem would
# only share the cores): turm, tandem (local transport), tandem-ssh. Each tandem's frames (their
# time on the UI task) are reported too: median, p99, max.
# usage: [FOLLOWERS="turm tandem tandem-ssh"] scripts/bench-joblogs.sh [RATE] [SECS]
source "$(dirname "$0")/bench-env.sh"
source "$ROOT/scripts/services.sh"
RATE="${1:-2000}"
SECS="${2:-30}"
WORK="$(mktemp -d)"
SOCKS=()
cleanup() {
    for s in "${SOCKS[@]}"; do tmux -S "$s" kill-server 2>/dev/null || true; done
    [ -z "${JOB:-}" ] || scancel "$JOB" 2>/dev/null || true
    stop_services
    rm -rf "$WORK"
}
trap cleanup EXIT
command -v tmux >/dev/null || { echo "tmux is needed" >&2; exit 1; }
TURM="$TOOLS/bin/turm"
if [ ! -x "$TURM" ]; then
    echo "== installing turm into $TOOLS (once, a few minutes)" >&2
    cargo install turm --locked --root "$TOOLS" --quiet
fi
start_slurm >&2
start_sshd >&2

# the job: RATE lines/s for long enough to cover the warm-up and the window
cat > "$WORK/chatty.py" <<P
import sys, time
rate, secs = $RATE, $SECS + 40
start = time.time(); i = 0
while time.time() - start < secs:
    n = int((time.time() - start) * rate) - i
    if n > 0:
        ts = f"{time.time():.3f}"
        sys.stdout.write("".join(f"line {j} at {ts} residual=2.113e3 energy=34.1182\n" for j in range(i, i + n)))
        sys.stdout.flush()
        i += n
    time.sleep(0.005)
P
JOB=$(sbatch --parsable -J chatty -D "$WORK" -o "$WORK/job-%j.out" -e "$WORK/job-%j.err" --wrap "exec python3 $WORK/chatty.py")
OUT="$WORK/job-$JOB.out"
until [ -s "$OUT" ]; do sleep 0.2; done

# a project whose targets reach that Slurm here and over SSH
mkdir -p "$WORK/p" "$WORK/home"
export TANDEM_HOME="$WORK/home"
cp -r "$ROOT/sample-projects/heat-diffusion/." "$WORK/p/"
cat >> "$WORK/p/tandem.toml" <<T

[targets.ws]
kind = "slurm"
transport = "local"
slurm_conf = "$SLURM_CONF"

[targets.ws-ssh]
kind = "slurm"
transport = "ssh"
host = "127.0.0.1"
port = $TANDEM_TEST_SSH_PORT
user = "$(id -un)"
identity_file = "$TANDEM_TEST_SSH_KEY"
known_hosts_file = "$TANDEM_TEST_SSH_KNOWN_HOSTS"
slurm_conf = "$SLURM_CONF"
T

# start NAME COMMAND: a tmux of its own at 160x45 running COMMAND
start() {
    local sock="$WORK/$1.sock"
    SOCKS+=("$sock")
    tmux -S "$sock" -f /dev/null new-session -d -s b -x 160 -y 45 "bash --norc --noprofile"
    tmux -S "$sock" send-keys -t b "cd $WORK/p && exec $2" Enter
}
pane() { tmux -S "$WORK/$1.sock" capture-pane -p -t b; }
keys() { tmux -S "$WORK/$1.sock" send-keys -t b "$2"; }
wait_for() { # name, pattern, what
    local t0; t0=$(date +%s)
    until pane "$1" | grep -q "$2"; do
        sleep 0.2
        [ $(( $(date +%s) - t0 )) -lt 60 ] || { pane "$1" >&2; echo "$1: no $3" >&2; exit 1; }
    done
}

read -r -a NAMES <<< "${FOLLOWERS:-turm tandem tandem-ssh}"
has() { [[ " ${NAMES[*]} " == *" $1 "* ]]; }
! has turm || start turm "env SLURM_CONF=$SLURM_CONF $TURM"
! has tandem || start tandem "env SLURM_CONF=$SLURM_CONF TANDEM_HOME=$TANDEM_HOME TANDEM_FRAME_TIMES=$WORK/tandem.frames $TANDEM --target ws"
! has tandem-ssh || start tandem-ssh "env TANDEM_HOME=$TANDEM_HOME TANDEM_FRAME_TIMES=$WORK/tandem-ssh.frames $TANDEM --target ws-ssh"
for t in tandem tandem-ssh; do
    has "$t" || continue
    wait_for "$t" "1 Pipeline" "TUI"
    keys "$t" 8
    wait_for "$t" "chatty" "job in the Jobs view"
    keys "$t" Enter
done
for t in "${NAMES[@]}"; do wait_for "$t" "line [0-9]* at" "log lines on screen"; done
sleep 3
declare -A F0
for t in tandem tandem-ssh; do F0[$t]=$(cat "$WORK/$t.frames" 2>/dev/null | wc -l); done

declare -A PID A RSS0
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for t in "${NAMES[@]}"; do
    PID[$t]=$(tmux -S "$WORK/$t.sock" display-message -p -t b '#{pane_pid}')
    A[$t]=$(ticks "${PID[$t]}")
    RSS0[$t]=$(awk '/VmRSS/ {print $2}' "/proc/${PID[$t]}/status")
    tmux -S "$WORK/$t.sock" pipe-pane -t b -o "cat >> $WORK/$t.bytes"
done
end=$(( $(date +%s) + SECS ))
while [ "$(date +%s)" -lt "$end" ]; do
    file=$(tail -c 4096 "$OUT" | grep -o "^line [0-9]*" | tail -1 | awk '{print $2}')
    for t in "${NAMES[@]}"; do
        shown=$(pane "$t" | grep -o "line [0-9]* at" | awk '{print $2}' | sort -n | tail -1)
        echo "$(( (file - ${shown:-0}) * 1000 / RATE ))" >> "$WORK/$t.behind"
    done
    sleep 1
done
printf '%-11s %8s %10s %10s %12s %14s %14s\n' follower CPU% "peak RSS" "RSS start→end" "to terminal" "behind median" "behind p95"
for t in "${NAMES[@]}"; do
    b=$(ticks "${PID[$t]}")
    tmux -S "$WORK/$t.sock" pipe-pane -t b
    bytes=$(stat -c %s "$WORK/$t.bytes" 2>/dev/null || echo 0)
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/${PID[$t]}/status")
    rss1=$(awk '/VmRSS/ {print $2}' "/proc/${PID[$t]}/status")
    med=$(median < "$WORK/$t.behind")
    p95=$(sort -g "$WORK/$t.behind" | awk '{a[NR]=$1} END {print a[int(NR*0.95)]}')
    awk -v t="$t" -v a="${A[$t]}" -v b="$b" -v hz="$HZ" -v s="$SECS" -v by="$bytes" -v hwm="$hwm" -v r0="${RSS0[$t]}" -v r1="$rss1" -v med="$med" -v p95="$p95" 'BEGIN {
        printf "%-11s %7.1f%% %7.1f MiB %5.1f→%.1f MiB %8.1f KB/s %11d ms %11d ms\n", t, 100 * (b - a) / hz / s, hwm / 1024, r0 / 1024, r1 / 1024, by / s / 1000, med, p95 }' | tee -a "$WORK/table.txt"
done
for t in tandem tandem-ssh; do
    [ -s "$WORK/$t.frames" ] || continue
    tail -n +"$(( F0[$t] + 1 ))" "$WORK/$t.frames" | awk 'NF {print $1 / 1000}' | sort -g | awk -v t="$t" '{a[NR]=$1} END {
        printf "%-11s frames on the UI task: %d, median %.2f ms, p99 %.2f ms, max %.2f ms\n", t, NR, a[int((NR+1)/2)], a[int(NR*0.99)], a[NR] }'
done
has turm || exit 0
awk 'NR == 1 {tc = $2 + 0; tb = $7} NR > 1 {printf "%-11s CPU %.0fx less than turm, bytes to the terminal %.0fx fewer\n", $1, tc / ($2 + 0.001), tb / ($7 + 0.001)}' "$WORK/table.txt"
