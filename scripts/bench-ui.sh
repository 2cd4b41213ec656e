#!/usr/bin/env bash
# The TUI in a real terminal (tmux): start to first frame (median of 20), and idle CPU and bytes
# written to the terminal over 30 s at 120x40 on the sample project after a finished run.
# usage: scripts/bench-ui.sh [IDLE_SECONDS]
source "$(dirname "$0")/bench-env.sh"
IDLE="${1:-30}"
command -v tmux >/dev/null || { echo "tmux is needed" >&2; exit 1; }
WORK="$(mktemp -d)"
SOCK="$WORK/tmux.sock"
cleanup() { tmux -S "$SOCK" kill-server 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
export TANDEM_HOME="$WORK/home"
"$TANDEM" run >/dev/null 2>&1 # a finished run, so the views have content

tmux -S "$SOCK" -f /dev/null new-session -d -s b -x 120 -y 40 "bash --norc --noprofile"
tmux -S "$SOCK" send-keys -t b "for i in \$(seq 20); do s=\$(date +%s%N); TANDEM_HOME=$TANDEM_HOME $TANDEM --first-frame; e=\$(date +%s%N); echo \$(( (e - s) / 1000 )) >> $WORK/ff.txt; done; echo FF-\$((1+1))-DONE" Enter
until tmux -S "$SOCK" capture-pane -p -t b | grep -q FF-2-DONE; do sleep 0.2; done
FF=$(median < "$WORK/ff.txt")
echo "start to first frame (process start, project load, terminal set-up, one frame, restore): median $((FF / 1000)).$(( (FF % 1000) / 100 )) ms of 20"

tmux -S "$SOCK" send-keys -t b "clear; TANDEM_HOME=$TANDEM_HOME exec $TANDEM" Enter
until tmux -S "$SOCK" capture-pane -p -t b | grep -q "1 Pipeline"; do sleep 0.1; done
sleep 3
PID=$(tmux -S "$SOCK" display-message -p -t b '#{pane_pid}')
tmux -S "$SOCK" pipe-pane -t b -o "cat >> $WORK/bytes.out"
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
HZ=$(getconf CLK_TCK)
a=$(ticks); sleep "$IDLE"; b=$(ticks)
tmux -S "$SOCK" pipe-pane -t b
BYTES=$(stat -c %s "$WORK/bytes.out" 2>/dev/null || echo 0)
RSS=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
awk -v a="$a" -v b="$b" -v hz="$HZ" -v s="$IDLE" -v by="$BYTES" -v rss="$RSS" 'BEGIN { printf "idle %ds at 120x40: CPU %.2f%%, %.1f bytes/s to the terminal, RSS %.1f MiB\n", s, 100 * (b - a) / hz / s, by / s, rss / 1024 }'
