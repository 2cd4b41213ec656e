#!/usr/bin/env bash
# File to PNG, end to end (process start included), tandem vs matplotlib on the same data in one
# run: a 2048x2048 f64 field as a heatmap, and a 1M-row CSV series as a line plot, both 1200x800.
# Medians of 5. The data is written with numpy in the bench venv.
source "$(dirname "$0")/bench-env.sh"
bench_venv numpy matplotlib
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
"$PY" - "$WORK" <<'P'
import sys, numpy as np
d = sys.argv[1]
y, x = np.mgrid[0:2048, 0:2048] / 2048.0
np.save(f"{d}/field.npy", np.sin(6 * x) * np.cos(4 * y) + x)
t = np.linspace(0, 1, 1_000_000)
np.savetxt(f"{d}/series.csv", np.c_[t, np.sin(40 * t) + t, np.cos(30 * t)], delimiter=",",
           header="time,energy,peak", comments="", fmt="%.6g")
P
cat > "$WORK/mpl_heat.py" <<'P'
import sys, numpy as np, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
f = np.load(sys.argv[1])
fig, ax = plt.subplots(figsize=(12, 8), dpi=100)
im = ax.imshow(f, cmap="viridis", origin="lower", aspect="auto")
fig.colorbar(im); ax.set_title("field")
fig.savefig(sys.argv[2])
P
cat > "$WORK/mpl_line.py" <<'P'
import sys, numpy as np, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
d = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
fig, ax = plt.subplots(figsize=(12, 8), dpi=100)
ax.plot(d[:, 0], d[:, 1], label="energy"); ax.plot(d[:, 0], d[:, 2], label="peak")
ax.legend(); ax.set_title("series")
fig.savefig(sys.argv[2])
P
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
run5() { for _ in 1 2 3 4 5; do ms "$@"; done | median; }
TH=$(run5 "$TANDEM" plot "$WORK/field.npy" --kind heatmap --out "$WORK/t.png" --cmap viridis)
MH=$(run5 "$PY" "$WORK/mpl_heat.py" "$WORK/field.npy" "$WORK/m.png")
TL=$(run5 "$TANDEM" plot "$WORK/series.csv" --kind line --x time --y energy,peak --out "$WORK/tl.png")
ML=$(run5 "$PY" "$WORK/mpl_line.py" "$WORK/series.csv" "$WORK/ml.png")
echo "heatmap 2048x2048 f64 -> PNG: tandem ${TH} ms, matplotlib ${MH} ms: $(awk -v a="$MH" -v b="$TH" 'BEGIN{printf "%.1fx", a/b}')"
echo "line, 1M rows x 2 series -> PNG: tandem ${TL} ms, matplotlib ${ML} ms: $(awk -v a="$ML" -v b="$TL" 'BEGIN{printf "%.1fx", a/b}')"
