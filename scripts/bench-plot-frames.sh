#!/usr/bin/env bash
# Frames while large snapshots are read and decoded: a run whose solve phase wrote 12 snapshots of
# a SIDE x SIDE f64 field (default 2048: 32 MiB each, written with numpy); tandem shows them in the
# Plots view in a real terminal (tmux, 200x60) and plays them (Space, then `>`: 4 a second) for
# SECS seconds, so a new snapshot is read, its range counted and averaged to the screen's cells
# (off the UI task) about every 250 ms. Reports every frame's time on the UI task (drawn and
# handed to the terminal writer thread; goal: none longer than 16 ms), how long tmux took to
# take each frame's bytes, and how many snapshots reached the screen.
# usage: scripts/bench-plot-frames.sh [SIDE] [SECS]
source "$(dirname "$0")/bench-env.sh"
SIDE="${1:-2048}"
SECS="${2:-15}"
command -v tmux >/dev/null || { echo "tmux is needed" >&2; exit 1; }
bench_venv numpy
WORK="$(mktemp -d)"
SOCK="$WORK/tmux.sock"
cleanup() { tmux -S "$SOCK" kill-server 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
export TANDEM_HOME="$WORK/home"
mkdir -p "$WORK/p" "$WORK/snaps"
"$PY" - "$WORK/snaps" "$SIDE" <<'P'
import sys, numpy as np
out, n = sys.argv[1], int(sys.argv[2])
y, x = np.mgrid[0:n, 0:n] / n
for k in range(12):
    f = np.exp(-((x - 0.2 - 0.05 * k) ** 2 + (y - 0.5) ** 2) * 40) + 0.01 * k
    np.save(f"{out}/field_{k:04d}.npy", f.astype(np.float64))
P
bench_project "$WORK/p/tandem.toml" big '["sh", "-c", "mkdir -p {output} && touch {output}/_SUCCESS"]' \
    "[\"sh\", \"-c\", \"mkdir -p {output}/snapshots && cp $WORK/snaps/*.npy {output}/snapshots/\"]"
cat >> "$WORK/p/tandem.toml" <<T
[[plots]]
name = "field"
kind = "heatmap"
phase = "solve"
file = "snapshots/field_*.npy"
T
"$TANDEM" run "$WORK/p/tandem.toml" >/dev/null 2>&1
tmux -S "$SOCK" -f /dev/null new-session -d -s b -x 200 -y 60 "bash --norc --noprofile"
tmux -S "$SOCK" send-keys -t b "cd $WORK/p && TANDEM_HOME=$TANDEM_HOME TANDEM_FRAME_TIMES=$WORK/frames.txt exec $TANDEM" Enter
t0=$(date +%s)
until tmux -S "$SOCK" capture-pane -p -t b | grep -q "1 Pipeline"; do
    sleep 0.1
    [ $(( $(date +%s) - t0 )) -lt 30 ] || { tmux -S "$SOCK" capture-pane -p -t b >&2; echo "tandem did not start" >&2; exit 1; }
done
tmux -S "$SOCK" send-keys -t b 6
t0=$(date +%s)
until tmux -S "$SOCK" capture-pane -p -t b | grep -q "snapshot 12/12"; do
    sleep 0.1
    [ $(( $(date +%s) - t0 )) -lt 60 ] || { tmux -S "$SOCK" capture-pane -p -t b >&2; echo "no plot on screen" >&2; exit 1; }
done
sleep 1
: > "$WORK/frames.txt"
tmux -S "$SOCK" pipe-pane -t b -o "cat >> $WORK/bytes.out"
tmux -S "$SOCK" send-keys -t b Space
tmux -S "$SOCK" send-keys -t b ">"
end=$(( $(date +%s) + SECS ))
while [ "$(date +%s)" -lt "$end" ]; do
    tmux -S "$SOCK" capture-pane -p -t b | grep -o "snapshot [0-9]*/12" | head -1 >> "$WORK/shown.txt"
    sleep 0.1
done
tmux -S "$SOCK" send-keys -t b Space
tmux -S "$SOCK" pipe-pane -t b
BYTES=$(stat -c %s "$WORK/bytes.out" 2>/dev/null || echo 0)
SHOWN=$(uniq "$WORK/shown.txt" | wc -l)
stat_of() { # column of frames.txt (lines that wrote bytes, for the writes) -> "median, p99, max"
    awk -v c="$1" 'c == 1 || $3 > 0 {print $c}' "$WORK/frames.txt" | sort -g | awk '{a[NR]=$1} END {printf "%d frames, median %.2f ms, p99 %.2f ms, max %.2f ms", NR, a[int((NR+1)/2)]/1000, a[int(NR*0.99)]/1000, a[NR]/1000}'
}
FR=$(stat_of 1)
WR=$(stat_of 2)
echo "playing ${SIDE}x${SIDE} f64 snapshots ($(( SIDE * SIDE * 8 / 1048576 )) MiB each) for ${SECS}s at 200x60: $SHOWN snapshot changes seen on screen"
echo "frames on the UI task (drawn, handed to the terminal writer): $FR"
echo "the terminal (tmux) taking a frame, on the writer thread: ${WR#* frames, }"
echo "written to the terminal: $(( BYTES / 1024 )) KiB, $(( BYTES / 1024 / (SHOWN > 0 ? SHOWN : 1) )) KiB a snapshot"
