#!/usr/bin/env bash
# preprocess: MB/s on generated raw CSV (default 1000 MB), side by side with polars doing the same
# cleaning and aggregation on the same files. Median of 3 runs each.
# usage: scripts/bench-preprocess.sh [SIZE_MB]
source "$(dirname "$0")/bench-env.sh"
SIZE="${1:-1000}"
bench_venv polars
DATA="$CACHE/raw-$SIZE"
if [ ! -f "$DATA/.done" ]; then
    rm -rf "$DATA"
    "$TANDEM" tool gen --out "$DATA" --size-mb "$SIZE" --files 8 --seed 7 >/dev/null
    touch "$DATA/.done"
fi
BYTES=$(cat "$DATA"/*.csv | wc -c)
echo "input: $(ls "$DATA"/*.csv | wc -l) files, $((BYTES / 1000000)) MB, $(nproc) cores"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
cat "$DATA"/*.csv >/dev/null # warm the page cache for both
ts=(); ps=()
for i in 1 2 3; do
    s=$(date +%s.%N); "$TANDEM" tool preprocess --input "$DATA" --output "$OUT/t" >/dev/null; e=$(date +%s.%N)
    ts+=("$(echo "$e - $s" | bc -l)")
    ps+=("$("$PY" "$ROOT/benches/preprocess_polars.py" "$DATA" "$OUT/p" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')")
done
T=$(printf '%s\n' "${ts[@]}" | median); P=$(printf '%s\n' "${ps[@]}" | median)
"$PY" - "$BYTES" "$T" "$P" <<'PYEOF'
import sys
b, t, p = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"tandem preprocess: {t:6.2f} s  {b/1e6/t:7.1f} MB/s (whole process: start, parse, aggregate, write)")
print(f"polars           : {p:6.2f} s  {b/1e6/p:7.1f} MB/s (in-process time, interpreter start excluded)")
print(f"ratio tandem/polars: {p/t:.2f}x")
PYEOF
