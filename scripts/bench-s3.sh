#!/usr/bin/env bash
# tandem against the aws CLI on the same local S3 servers, side by side in one run:
#   - a flat prefix of N keys on moto (default 100000): time to the first row, full recursive listing
#     (wall, client CPU, peak RSS);
#   - a partitioned prefix (100 sub-prefixes of 1000 keys, like date=.../) on moto: recursive listing;
#   - the Datasets view's memory for 1M listed keys;
#   - 1 GiB of objects (8 x 128 MiB) on s3s-fs: download and upload throughput.
# Servers run on 127.0.0.1 and are stopped by PID at the end.
# usage: scripts/bench-s3.sh [N_KEYS]
source "$(dirname "$0")/bench-env.sh"
source "$ROOT/scripts/services.sh"
trap stop_services EXIT
N="${1:-100000}"
start_s3s >/dev/null
start_moto >/dev/null
AWS="${TANDEM_MOTO_VENV:-$HOME/.cache/tandem/moto-venv}/bin/aws"
PY="${TANDEM_MOTO_VENV:-$HOME/.cache/tandem/moto-venv}/bin/python"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=testsecret AWS_REGION=us-east-1
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
M="$PY $ROOT/benches/measure.py --"
WORK="$(mktemp -d)"; trap 'stop_services; rm -rf "$WORK"' EXIT

echo "seeding $N flat keys and 100 x 1000 partitioned keys on moto (a few minutes)..." >&2
mkdir -p "$WORK/flat" "$WORK/part"
"$PY" -c "
import os
[open(f'$WORK/flat/k{i:07d}.csv','w').write('x') for i in range($N)]
for d in range(100):
    os.makedirs(f'$WORK/part/date=2024-{d:03d}')
    [open(f'$WORK/part/date=2024-{d:03d}/f{i:04d}.csv','w').write('x') for i in range(1000)]
"
"$AWS" --endpoint-url "$TANDEM_TEST_MOTO" s3 mb s3://bench >/dev/null
"$TANDEM" cp "$WORK/flat" s3://bench/flat/ --recursive --concurrency 32 --endpoint-url "$TANDEM_TEST_MOTO" >/dev/null 2>&1
"$TANDEM" cp "$WORK/part" s3://bench/part/ --recursive --concurrency 32 --endpoint-url "$TANDEM_TEST_MOTO" >/dev/null 2>&1
rm -rf "$WORK/flat" "$WORK/part"

echo "seeding 1 GiB on s3s-fs..." >&2
mkdir -p "$RUN_DIR/s3s-data/big/set"
for i in $(seq 0 7); do head -c $((128 << 20)) /dev/urandom > "$RUN_DIR/s3s-data/big/set/part-$i.bin"; done

row() { "$PY" -c "import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); k=sys.argv[4]; u='MiB' if 'mib' in k else 's'; print(f'{sys.argv[3]:<42} tandem {a[k]:8.2f} {u:<3}  aws {b[k]:8.2f} {u:<3}  ratio {b[k]/max(a[k],1e-9):5.1f}x')" "$1" "$2" "$3" "$4"; }

T=$($M "$TANDEM" ls "s3://bench/flat/" --endpoint-url "$TANDEM_TEST_MOTO")
A=$($M "$AWS" --endpoint-url "$TANDEM_TEST_MOTO" s3 ls "s3://bench/flat/")
row "$T" "$A" "first row of a $N-key prefix" first_line
T=$($M "$TANDEM" ls "s3://bench/flat/" --recursive --endpoint-url "$TANDEM_TEST_MOTO")
A=$($M "$AWS" --endpoint-url "$TANDEM_TEST_MOTO" s3 ls --recursive "s3://bench/flat/")
row "$T" "$A" "flat recursive listing, wall" wall
row "$T" "$A" "flat recursive listing, client CPU" cpu
row "$T" "$A" "flat recursive listing, peak RSS MiB" maxrss_mib
T=$($M "$TANDEM" ls "s3://bench/part/" --recursive --endpoint-url "$TANDEM_TEST_MOTO")
A=$($M "$AWS" --endpoint-url "$TANDEM_TEST_MOTO" s3 ls --recursive "s3://bench/part/")
row "$T" "$A" "partitioned (100 x 1000) recursive, wall" wall
row "$T" "$A" "partitioned recursive, client CPU" cpu
echo "memory of the Datasets view holding 1M listed keys (tandem tool bench-listing):"
"$TANDEM" tool bench-listing --keys 1000000

mkdir -p "$WORK/dt" "$WORK/da"
T=$($M "$TANDEM" cp s3://big/set/ "$WORK/dt" --recursive --endpoint-url "$TANDEM_TEST_S3S")
A=$($M "$AWS" --endpoint-url "$TANDEM_TEST_S3S" s3 cp s3://big/set/ "$WORK/da" --recursive)
row "$T" "$A" "download 1 GiB (8 objects)" wall
cmp <(cat "$WORK"/dt/*) <(cat "$RUN_DIR"/s3s-data/big/set/*) && echo "  (download byte-identical)"
T=$($M "$TANDEM" cp "$WORK/dt" s3://big/up-t/ --recursive --endpoint-url "$TANDEM_TEST_S3S")
A=$($M "$AWS" --endpoint-url "$TANDEM_TEST_S3S" s3 cp "$WORK/da" s3://big/up-a/ --recursive)
row "$T" "$A" "upload 1 GiB (8 files)" wall
