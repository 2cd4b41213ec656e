#!/usr/bin/env bash
# The Datasets preview headless (`tandem preview`, the view's own code) against what a researcher
# would run for the same look, side by side in one run:
#   - Parquet: a file whose first row group is 64 MiB, on moto and on s3s-fs (S3 servers on
#     127.0.0.1; s3s-fs reads the whole object for each request, which is its floor here): tandem
#     (footer, then ranged GETs of the column chunks its first rows need, at most 8 MiB) against
#     pyarrow's own S3 filesystem reading the first 200 rows of row group 0; the bytes tandem
#     fetched, as it reports them;
#   - CSV: the first 200 rows of a 1 GiB file: tandem against pandas.read_csv(nrows=200) and
#     `head -n 200` (the floor: no parsing at all).
# Each figure is the median of 5 runs. Servers are stopped by PID at the end.
# usage: scripts/bench-preview.sh
source "$(dirname "$0")/bench-env.sh"
source "$ROOT/scripts/services.sh"
WORK="$(mktemp -d)"
trap 'stop_services; rm -rf "$WORK"' EXIT
bench_venv pyarrow pandas
start_s3s >/dev/null
start_moto >/dev/null
export AWS_ACCESS_KEY_ID="$TANDEM_TEST_KEY_ID" AWS_SECRET_ACCESS_KEY="$TANDEM_TEST_SECRET" AWS_REGION=us-east-1
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
M="$PY $ROOT/benches/measure.py --"
wall() { for _ in 1 2 3 4 5; do $M "$@" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["wall"])'; done | median; }

echo "writing a Parquet file with a 64 MiB first row group and a 1 GiB CSV..." >&2
mkdir -p "$RUN_DIR/s3s-data/bench-preview"
"$PY" - "$RUN_DIR/s3s-data/bench-preview/wide.parquet" "$WORK/big.csv" <<'PY'
import sys, numpy as np, pyarrow as pa, pyarrow.parquet as pq
rows = 1 << 19
rng = np.random.default_rng(1)
cols = {f"f{i}": rng.standard_normal(rows) for i in range(12)}
cols.update({f"i{i}": rng.integers(0, 1 << 40, rows) for i in range(4)})
t = pa.table(cols)
pq.write_table(pa.concat_tables([t, t]), sys.argv[1], row_group_size=rows, compression="snappy")
md = pq.ParquetFile(sys.argv[1]).metadata
print(f"  row group 0: {md.row_group(0).total_byte_size / 2**20:.1f} MiB in {md.num_columns} columns", file=sys.stderr)
line = b"2024-03-01T12:00:00Z;station-0042;12.5;1013.25;0.82;\"north; ridge\"\n"
with open(sys.argv[2], "wb") as f:
    f.write(b"time;station;temp;pressure;humidity;note\n")
    block = line * (1 << 14)
    for _ in range((1 << 30) // len(block)):
        f.write(block)
PY

PQ_READ="import pyarrow.fs as fs, pyarrow.parquet as pq, sys
s3 = fs.S3FileSystem(endpoint_override=sys.argv[1], scheme='http', access_key='test', secret_key='testsecret', region='us-east-1')
f = pq.ParquetFile(s3.open_input_file('bench-preview/wide.parquet'))
print(next(f.iter_batches(batch_size=200, row_groups=[0])).num_rows)"
AWS="${TANDEM_MOTO_VENV:-$HOME/.cache/tandem/moto-venv}/bin/aws"
"$AWS" --endpoint-url "$TANDEM_TEST_MOTO" s3 mb s3://bench-preview >/dev/null
"$AWS" --endpoint-url "$TANDEM_TEST_MOTO" s3 cp "$RUN_DIR/s3s-data/bench-preview/wide.parquet" s3://bench-preview/ >/dev/null
for server in moto s3s; do
    if [ "$server" = moto ]; then URL="$TANDEM_TEST_MOTO"; else URL="$TANDEM_TEST_S3S"; fi
    T=$(wall "$TANDEM" preview s3://bench-preview/wide.parquet --rows 200 --endpoint-url "$URL")
    P=$(wall "$PY" -c "$PQ_READ" "$URL")
    "$PY" -c 'import sys; t, p = map(float, sys.argv[1:3]); w = f"Parquet, 64 MiB first row group on {sys.argv[3]}"; print(f"{w:<44} tandem {t*1e3:7.1f} ms   pyarrow {p*1e3:7.1f} ms   ratio {p/t:5.1f}x")' "$T" "$P" "$server"
done
fetched=$("$TANDEM" preview s3://bench-preview/wide.parquet --rows 200 --endpoint-url "$TANDEM_TEST_MOTO" | grep -m1 'fetched of')
echo "  tandem: ${fetched# }"

T=$(wall "$TANDEM" preview "$WORK/big.csv" --rows 200)
P=$(wall "$PY" -c "import pandas, sys; print(len(pandas.read_csv(sys.argv[1], sep=';', nrows=200)))" "$WORK/big.csv")
H=$(wall head -n 200 "$WORK/big.csv")
"$PY" -c 'import sys; t, p, h = map(float, sys.argv[1:]); w = "CSV, first 200 rows of 1 GiB"; print(f"{w:<44} tandem {t*1e3:7.1f} ms   pandas  {p*1e3:7.1f} ms   ratio {p/t:5.1f}x   (head -n 200: {h*1e3:.1f} ms)")' "$T" "$P" "$H"
