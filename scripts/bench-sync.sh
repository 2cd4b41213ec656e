#!/usr/bin/env bash
# `tandem sync` against `rclone sync --checksum` (size and MD5 from the listing: the closest to
# tandem's compare-by-content) and `aws s3 sync` (size and mtime) on the same Garage, side by side
# in one run, on a tree of N files (default 10000) of 1-4 KiB in 100 folders:
#   - the first sync (everything goes up);
#   - a sync where nothing changed (the figure the issue asks to be <= 2 s, one listing pass);
#   - after 10 files' contents changed (same sizes): how long, and how many objects each sent.
# Each tool syncs to its own prefix. Garage runs on 127.0.0.1 and is stopped by PID at the end.
# usage: scripts/bench-sync.sh [N_FILES]
source "$(dirname "$0")/bench-env.sh"
source "$ROOT/scripts/services.sh"
N="${1:-10000}"
WORK="$(mktemp -d)"
trap 'stop_services; rm -rf "$WORK"' EXIT
have rclone || apt_install rclone
start_garage >/dev/null
start_moto >/dev/null # its venv holds the aws CLI
AWS="${TANDEM_MOTO_VENV:-$HOME/.cache/tandem/moto-venv}/bin/aws"
PY="${TANDEM_MOTO_VENV:-$HOME/.cache/tandem/moto-venv}/bin/python"
export AWS_ACCESS_KEY_ID="$TANDEM_TEST_KEY_ID" AWS_SECRET_ACCESS_KEY="$TANDEM_TEST_SECRET" AWS_REGION=us-east-1
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE
export RCLONE_CONFIG_G_TYPE=s3 RCLONE_CONFIG_G_PROVIDER=Other RCLONE_CONFIG_G_ENDPOINT="$TANDEM_TEST_GARAGE" \
    RCLONE_CONFIG_G_REGION=us-east-1 RCLONE_CONFIG_G_FORCE_PATH_STYLE=true \
    RCLONE_CONFIG_G_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" RCLONE_CONFIG_G_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
export TANDEM_HOME="$WORK/home"
E=(--endpoint-url "$TANDEM_TEST_GARAGE")
M="$PY $ROOT/benches/measure.py --"

row() {
    "$PY" - "$@" <<'PY'
import json, sys
label, key = sys.argv[1], sys.argv[2]
t, r, a = (json.loads(x) for x in sys.argv[3:6])
for name, m in (("tandem", t), ("rclone", r), ("aws", a)):
    if m["exit"] != 0:
        print(f"  ({name} exited {m['exit']})", file=sys.stderr)
f = lambda m: m[key] if m[key] is not None else float("nan")
ratio = lambda m: f(m) / max(f(t), 1e-9)
print(f"{label:<44} tandem {f(t):8.3f} s   rclone {f(r):8.3f} ({ratio(r):5.1f}x)  aws {f(a):8.3f} ({ratio(a):5.1f}x)")
PY
}

echo "a tree of $N files in 100 folders..." >&2
"$AWS" "${E[@]}" s3 mb s3://bench >/dev/null
"$PY" -c "
import os, random
random.seed(1)
for i in range($N):
    d = f'$WORK/tree/d{i % 100:02d}'
    os.makedirs(d, exist_ok=True)
    open(f'{d}/f{i:06d}.dat', 'wb').write(random.randbytes(1024 + (i * 37) % 3072))
"
sync_all() { # label
    T=$($M "$TANDEM" sync "$WORK/tree" s3://bench/t/ "${E[@]}")
    R=$($M rclone sync --checksum "$WORK/tree" g:bench/r/)
    A=$($M "$AWS" "${E[@]}" s3 sync "$WORK/tree" s3://bench/a/)
    row "$1" wall "$T" "$R" "$A"
}
sync_all "first sync of $N files, wall"
sync_all "sync, nothing changed, wall"
"$PY" -c "
for i in range(0, $N, $N // 10):
    p = f'$WORK/tree/d{i % 100:02d}/f{i:06d}.dat'
    b = bytearray(open(p, 'rb').read()); b[0] ^= 0xff
    open(p, 'wb').write(bytes(b))
"
T=$($M bash -c '"$0" sync "$1" s3://bench/t/ --endpoint-url "$2" --json >"$3"' "$TANDEM" "$WORK/tree" "$TANDEM_TEST_GARAGE" "$WORK/after.json")
sent=$("$PY" -c "
import json, sys
for l in open(sys.argv[1]):
    v = json.loads(l)
    if v.get('event') == 'done': print(v['sent'])
" "$WORK/after.json")
R=$($M rclone sync --checksum "$WORK/tree" g:bench/r/)
A=$($M "$AWS" "${E[@]}" s3 sync "$WORK/tree" s3://bench/a/)
row "sync after 10 files changed (same size), wall" wall "$T" "$R" "$A"
echo "  objects tandem sent after the change: $sent (aws s3 sync compares size and mtime only)"
