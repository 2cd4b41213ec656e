#!/usr/bin/env bash
# Following a Ray job log that grows at 50 MB/s: tandem (the tail websocket into a file, status every
# 0.5 s, as a Ray phase is followed) and the Ray Jobs CLI (`ray job logs --follow`, the tool users run
# today) follow the same job side by side. Each line carries the time it was written (`T=<ns>`); the
# lag is the time from a line's writing to its arrival. Prints both, with bytes received, whether the
# last line arrived, requests per poll (tandem) and peak memory; then tandem alone on a second job,
# reading the driver log file by offset (the transport path). A real Ray head on 127.0.0.1 is
# started here and stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE_MB=${RATE_MB:-50}
SECS=${SECS:-10}
cargo build -q --release
BIN="${TANDEM_BIN:-${CARGO_TARGET_DIR:-target}/release/tandem}"
source scripts/services.sh; trap stop_services EXIT
start_ray >/dev/null
RAY="$HOME/.cache/tandem/ray-venv/bin"
D=$(mktemp -d)
cat > $D/writer.py <<P
import sys, time
rate = $RATE_MB * 1e6; secs = $SECS; pad = b'x' * 170
out = sys.stdout.buffer
start = time.time(); sent = 0
while time.time() - start < secs:
    now = time.time_ns()
    block = b''.join(b'T=%d %s\n' % (now, pad) for _ in range(5000))
    out.write(block); out.flush(); sent += len(block)
    wait = start + sent / rate - time.time()
    if wait > 0: time.sleep(wait)
out.write(b'END\n'); out.flush()
print('wrote', sent, 'bytes in', round(time.time() - start, 2), 's', file=sys.stderr)
P
cat > $D/lag.py <<'P'
import sys, time, json
lags = []; n = 0; end = False
for line in sys.stdin.buffer:
    n += len(line)
    if line.startswith(b'T='):
        lags.append((time.time_ns() - int(line[2:].split(b' ', 1)[0])) / 1e6)
    elif line.startswith(b'END'):
        end = True
lags.sort()
p = lambda q: lags[int((len(lags) - 1) * q)] if lags else float('nan')
print(json.dumps({"bytes": n, "saw_end": end, "lag_ms_median": p(0.5), "lag_ms_p99": p(0.99), "lag_ms_max": p(1.0)}))
P
ID="bench-$(date +%s)"
curl -sf -X POST "$TANDEM_TEST_RAY/api/jobs/" -H 'Content-Type: application/json' \
    -d "{\"entrypoint\": \"python $D/writer.py\", \"submission_id\": \"$ID\"}" >/dev/null
# both followers start together on the same job
"$BIN" tool bench-ray-logs --dashboard "$TANDEM_TEST_RAY" --job "$ID" --out $D/tandem.log > $D/tandem.json &
T=$!
( /usr/bin/time -f '%M' -o $D/ray.rss "$RAY/ray" job logs --follow --address "$TANDEM_TEST_RAY" "$ID" 2>/dev/null \
    | python3 $D/lag.py > $D/ray.json ) &
R=$!
wait $T; wait $R || true
# the same load read the way a head node reached through a transport is: the driver log file by
# byte offset (tail -c through the transport, here the local one), no dashboard in the data path
ID2="bench-file-$(date +%s)"
curl -sf -X POST "$TANDEM_TEST_RAY/api/jobs/" -H 'Content-Type: application/json' \
    -d "{\"entrypoint\": \"python $D/writer.py\", \"submission_id\": \"$ID2\"}" >/dev/null
"$BIN" tool bench-ray-logs --dashboard "$TANDEM_TEST_RAY" --job "$ID2" --out $D/file.log \
    --temp-dir "$TANDEM_TEST_RAY_TMP" > $D/file.json
python3 - $D <<'P'
import json, sys
d = sys.argv[1]
t = json.load(open(d + '/tandem.json')); r = json.load(open(d + '/ray.json'))
r['peak_rss_mib'] = int(open(d + '/ray.rss').read().split()[-1]) / 1024
print(f"{'':24}{'tandem':>14}{'ray job logs -f':>18}")
for k in ['bytes', 'saw_end', 'lag_ms_median', 'lag_ms_p99', 'lag_ms_max', 'peak_rss_mib']:
    print(f"{k:24}{str(round(t[k], 1) if isinstance(t[k], float) else t[k]):>14}{str(round(r[k], 1) if isinstance(r[k], float) else r[k]):>18}")
print(f"tandem requests: {t['requests']} over {t['status_polls']} status polls = {t['requests_per_poll']:.2f} per poll")
f = json.load(open(d + '/file.json'))
print(f"\nby byte offset from the driver log file (the transport path), a second job alone:")
print(f"  bytes {f['bytes']} · saw end {f['saw_end']} · lag median {f['lag_ms_median']:.0f} ms · p99 {f['lag_ms_p99']:.0f} ms · max {f['lag_ms_max']:.0f} ms · peak RSS {f['peak_rss_mib']:.1f} MiB")
if r['lag_ms_median'] and t['lag_ms_median']:
    print(f"median lag ratio (ray CLI / tandem): {r['lag_ms_median'] / t['lag_ms_median']:.2f}x")
P
rm -rf $D
