#!/usr/bin/env bash
# heat2d: cell updates per second, the fraction of a plain copy's memory bandwidth (measured in the
# same process), and the ratio to a numpy implementation of the same scheme on the same grid.
# usage: scripts/bench-heat2d.sh [N] [STEPS]
source "$(dirname "$0")/bench-env.sh"
N="${1:-2048}"; STEPS="${2:-40}"
bench_venv numpy
echo "grid ${N}x${N}, ${STEPS} steps, $(nproc) cores"
T=$("$TANDEM" tool bench-heat2d --nx "$N" --ny "$N" --steps "$STEPS")
# numpy with its default threading, OpenBLAS settings untouched (elementwise ops do not use BLAS)
P=$("$PY" "$ROOT/benches/heat2d_numpy.py" "$N" "$N" "$STEPS")
"$PY" - "$T" "$P" <<'PYEOF'
import json, sys
t, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"tandem heat2d : {t['cell_updates_per_s']/1e6:8.1f} M cell updates/s  ({t['stencil_gb_per_s']:.2f} GB/s of {t['copy_gb_per_s']:.2f} GB/s plain copy = {100*t['fraction_of_copy_bandwidth']:.0f}%)")
print(f"numpy {p['numpy']:<8}: {p['cell_updates_per_s']/1e6:8.1f} M cell updates/s")
print(f"ratio tandem/numpy: {t['cell_updates_per_s']/p['cell_updates_per_s']:.1f}x")
PYEOF
