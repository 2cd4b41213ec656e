#!/usr/bin/env bash
# tandem against rclone (Debian's, with its defaults) and the aws CLI on the same Garage, side by
# side in one run; every row prints each tool's figure and the ratio to tandem's:
#   - a flat prefix of N keys (default 100000): time to the first line, process start included; a
#     full recursive listing (wall, client CPU, peak RSS);
#   - a partitioned prefix (100 sub-prefixes of 1000 keys, like date=.../): recursive listing;
#   - 1 GiB as 8 objects of 128 MiB: download and upload (wall, client CPU per GiB);
#   - 10,000 objects of 65 bytes: download and upload;
#   - the Datasets view's memory for 1M listed keys.
# The server and the clients share this machine's cores: client CPU saved is server throughput.
# Garage runs on 127.0.0.1 and is stopped by PID at the end.
# usage: scripts/bench-s3.sh [N_KEYS]
source "$(dirname "$0")/bench-env.sh"
source "$ROOT/scripts/services.sh"
N="${1:-100000}"
WORK="$(mktemp -d)"
trap 'stop_services; rm -rf "$WORK"' EXIT
have rclone || apt_install rclone
start_garage >/dev/null
start_moto >/dev/null # its venv holds the aws CLI
AWS="${TANDEM_MOTO_VENV:-$HOME/.cache/tandem/moto-venv}/bin/aws"
PY="${TANDEM_MOTO_VENV:-$HOME/.cache/tandem/moto-venv}/bin/python"
export AWS_ACCESS_KEY_ID="$TANDEM_TEST_KEY_ID" AWS_SECRET_ACCESS_KEY="$TANDEM_TEST_SECRET" AWS_REGION=us-east-1
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE
# rclone's remote `g:` from the environment (no config file)
export RCLONE_CONFIG_G_TYPE=s3 RCLONE_CONFIG_G_PROVIDER=Other RCLONE_CONFIG_G_ENDPOINT="$TANDEM_TEST_GARAGE" \
    RCLONE_CONFIG_G_REGION=us-east-1 RCLONE_CONFIG_G_FORCE_PATH_STYLE=true \
    RCLONE_CONFIG_G_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" RCLONE_CONFIG_G_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
E=(--endpoint-url "$TANDEM_TEST_GARAGE")
M="$PY $ROOT/benches/measure.py --"

# row LABEL KEY TANDEM_JSON RCLONE_JSON AWS_JSON: each tool's figure and how many times tandem's
row() {
    "$PY" - "$@" <<'PY'
import json, sys
label, key = sys.argv[1], sys.argv[2]
t, r, a = (json.loads(x) for x in sys.argv[3:6])
for name, m in (("tandem", t), ("rclone", r), ("aws", a)):
    if m["exit"] != 0:
        print(f"  ({name} exited {m['exit']})", file=sys.stderr)
unit = {"maxrss_mib": "MiB", "first_line": "s"}.get(key, "s")
f = lambda m: m[key] if m[key] is not None else float("nan")
ratio = lambda m: f(m) / max(f(t), 1e-9)
print(f"{label:<44} tandem {f(t):8.3f} {unit:<3} rclone {f(r):8.3f} ({ratio(r):5.1f}x)  aws {f(a):8.3f} ({ratio(a):5.1f}x)")
PY
}

echo "seeding $N flat keys and 100 x 1000 partitioned keys on Garage..." >&2
"$AWS" "${E[@]}" s3 mb s3://bench >/dev/null
mkdir -p "$WORK/flat" "$WORK/part"
"$PY" -c "
import os
[open(f'$WORK/flat/k{i:07d}.csv','w').write('x') for i in range($N)]
for d in range(100):
    os.makedirs(f'$WORK/part/date=2024-{d:03d}')
    [open(f'$WORK/part/date=2024-{d:03d}/f{i:04d}.csv','w').write('x') for i in range(1000)]
"
"$TANDEM" cp "$WORK/flat" s3://bench/flat/ --recursive --concurrency 64 "${E[@]}" >/dev/null 2>&1
"$TANDEM" cp "$WORK/part" s3://bench/part/ --recursive --concurrency 64 "${E[@]}" >/dev/null 2>&1
rm -rf "$WORK/flat" "$WORK/part"

T=$($M "$TANDEM" ls s3://bench/flat/ "${E[@]}")
R=$($M rclone lsf g:bench/flat/)
A=$($M "$AWS" "${E[@]}" s3 ls s3://bench/flat/)
row "first line of a $N-key prefix" first_line "$T" "$R" "$A"
T=$($M "$TANDEM" ls s3://bench/flat/ --recursive "${E[@]}")
R=$($M rclone lsf -R g:bench/flat/)
A=$($M "$AWS" "${E[@]}" s3 ls --recursive s3://bench/flat/)
row "flat recursive listing ($N keys), wall" wall "$T" "$R" "$A"
row "flat recursive listing, client CPU" cpu "$T" "$R" "$A"
row "flat recursive listing, peak RSS" maxrss_mib "$T" "$R" "$A"
T=$($M "$TANDEM" ls s3://bench/part/ --recursive "${E[@]}")
R=$($M rclone lsf -R g:bench/part/)
A=$($M "$AWS" "${E[@]}" s3 ls --recursive s3://bench/part/)
row "partitioned (100 x 1000) recursive, wall" wall "$T" "$R" "$A"
row "partitioned recursive, client CPU" cpu "$T" "$R" "$A"

echo "1 GiB as 8 objects of 128 MiB..." >&2
mkdir -p "$WORK/big"
for i in $(seq 0 7); do head -c $((128 << 20)) /dev/urandom >"$WORK/big/part-$i.bin"; done
T=$($M "$TANDEM" cp "$WORK/big" s3://bench/up-t/ --recursive "${E[@]}")
R=$($M rclone copy "$WORK/big" g:bench/up-r/)
A=$($M "$AWS" "${E[@]}" s3 cp "$WORK/big" s3://bench/up-a/ --recursive)
row "upload 1 GiB (8 files), wall" wall "$T" "$R" "$A"
row "upload 1 GiB, client CPU" cpu "$T" "$R" "$A"
mkdir -p "$WORK/dt" "$WORK/dr" "$WORK/da"
T=$($M "$TANDEM" cp s3://bench/up-t/ "$WORK/dt" --recursive "${E[@]}")
R=$($M rclone copy g:bench/up-t/ "$WORK/dr")
A=$($M "$AWS" "${E[@]}" s3 cp s3://bench/up-t/ "$WORK/da" --recursive)
row "download 1 GiB (8 objects), wall" wall "$T" "$R" "$A"
row "download 1 GiB, client CPU" cpu "$T" "$R" "$A"
cmp <(cat "$WORK"/dt/*) <(cat "$WORK"/big/*) && echo "  (tandem's download is byte-identical)"
rm -rf "$WORK/big" "$WORK/dt" "$WORK/dr" "$WORK/da"

echo "10,000 objects of 65 bytes..." >&2
mkdir -p "$WORK/small"
"$PY" -c "
[open(f'$WORK/small/s{i:05d}.txt','w').write('%064d\n' % i) for i in range(10000)]
"
T=$($M "$TANDEM" cp "$WORK/small" s3://bench/small-t/ --recursive "${E[@]}")
R=$($M rclone copy "$WORK/small" g:bench/small-r/)
A=$($M "$AWS" "${E[@]}" s3 cp "$WORK/small" s3://bench/small-a/ --recursive)
row "upload 10,000 x 65 B, wall" wall "$T" "$R" "$A"
row "upload 10,000 x 65 B, client CPU" cpu "$T" "$R" "$A"
mkdir -p "$WORK/st" "$WORK/sr" "$WORK/sa"
T=$($M "$TANDEM" cp s3://bench/small-t/ "$WORK/st" --recursive "${E[@]}")
R=$($M rclone copy g:bench/small-t/ "$WORK/sr")
A=$($M "$AWS" "${E[@]}" s3 cp s3://bench/small-t/ "$WORK/sa" --recursive)
row "download 10,000 x 65 B, wall" wall "$T" "$R" "$A"
row "download 10,000 x 65 B, client CPU" cpu "$T" "$R" "$A"
diff -r "$WORK/st" "$WORK/small" >/dev/null && echo "  (tandem's download is identical)"

echo "memory of the Datasets view holding 1M listed keys (tandem tool bench-listing):"
"$TANDEM" tool bench-listing --keys 1000000
