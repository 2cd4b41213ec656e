#!/usr/bin/env bash
# Following a CloudWatch log group: `tandem logs --group G --follow` against awslogs (`awslogs get G
# --watch`, PyPI; `aws logs tail --follow` is AWS CLI v2 only, which PyPI does not carry), on the
# same events in the same run. A writer puts one event every 100 ms for SECS
# seconds (each message carries the time it was put), into two moto servers on 127.0.0.1 (one per
# reader, so each server's request log counts one reader's calls). Reports, per reader: the lag
# from PutLogEvents to the line on stdout (median, p99, max), events missed or shown twice, and
# AWS calls per minute. moto ingests at once; on AWS add CloudWatch's own ingestion delay to both.
# usage: scripts/bench-cwlogs.sh [SECS] [TANDEM_POLL_SECONDS (default 1, awslogs' own interval)]
source "$(dirname "$0")/bench-env.sh"
source "$ROOT/scripts/services.sh"
SECS="${1:-60}"
POLL="${2:-1}"
bench_venv awslogs
trap stop_services EXIT
start_moto # installs moto once; the two servers below each log their own requests
VENV="${TANDEM_MOTO_VENV:-$HOME/.cache/tandem/moto-venv}"
PA=$(free_port); "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PA" >"$RUN_DIR/moto-a.log" 2>&1 &
PIDS+=($!); wait_port "$PA" moto-a $!
PB=$(free_port); "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PB" >"$RUN_DIR/moto-b.log" 2>&1 &
PIDS+=($!); wait_port "$PB" moto-b $!
A="http://127.0.0.1:$PA"; B="http://127.0.0.1:$PB"
PYM="$VENV/bin/python"
export AWS_ACCESS_KEY_ID="$TANDEM_TEST_KEY_ID" AWS_SECRET_ACCESS_KEY="$TANDEM_TEST_SECRET" AWS_REGION=us-east-1
OUT="$RUN_DIR/cwlogs"; mkdir -p "$OUT"
G=/aws/parallelcluster/bench

"$PYM" - "$A" "$B" "$G" <<'PY'
import sys, boto3
for url in sys.argv[1:3]:
    c = boto3.client("logs", endpoint_url=url, region_name="us-east-1")
    c.create_log_group(logGroupName=sys.argv[3]); c.create_log_stream(logGroupName=sys.argv[3], logStreamName="head")
PY
STAMP='import sys,time
for l in sys.stdin:
    print(f"{time.time()*1000:.0f} {l.rstrip()}", flush=True)'

AWS_ENDPOINT_URL="$A" "$TANDEM" logs --group "$G" --follow --since 1m --poll "$POLL" \
    | "$PYM" -u -c "$STAMP" > "$OUT/tandem.txt" &
TP=$!
"$(dirname "$PY")/awslogs" get "$G" ALL --watch --start 1m --no-color --aws-endpoint-url "$B" \
    | "$PYM" -u -c "$STAMP" > "$OUT/awslogs.txt" &
AP=$!
sleep 3
calls() { grep -c '"POST / HTTP' "$1" || true; }
a0=$(calls "$RUN_DIR/moto-a.log"); b0=$(calls "$RUN_DIR/moto-b.log"); T0=$(date +%s.%N)
"$PYM" - "$A" "$B" "$G" "$SECS" <<'PY'
import sys, time, boto3
cs = [boto3.client("logs", endpoint_url=u, region_name="us-east-1") for u in sys.argv[1:3]]
secs = float(sys.argv[4]); start = time.time(); i = 0
while time.time() - start < secs:
    now = int(time.time() * 1000)
    for c in cs:
        c.put_log_events(logGroupName=sys.argv[3], logStreamName="head",
                         logEvents=[{"timestamp": now, "message": f"seq={i} put={now}"}])
    i += 1
    time.sleep(max(0, start + i * 0.1 - time.time()))
PY
sleep $((POLL + 12))
rss() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }
TR=$(rss "$(pgrep -f "release/tandem logs --group $G" | head -1)")
AR=$(rss "$(pgrep -f "awslogs get $G" | head -1)")
echo "peak RSS: tandem ${TR} MiB, awslogs ${AR} MiB"
a1=$(calls "$RUN_DIR/moto-a.log"); b1=$(calls "$RUN_DIR/moto-b.log"); T1=$(date +%s.%N)
kill "$TP" "$AP" 2>/dev/null || true
pkill -P $$ -f "logs --group $G" 2>/dev/null || true
pkill -f "awslogs get $G" 2>/dev/null || true
wait "$TP" "$AP" 2>/dev/null || true

"$PYM" - "$OUT" "$SECS" <<'PY'
import sys, re, statistics
out, secs = sys.argv[1], float(sys.argv[2])
sent = int(secs * 10)
for name in ("tandem", "awslogs"):
    lags, seen = [], {}
    for line in open(f"{out}/{name}.txt"):
        m = re.search(r"seq=(\d+) put=(\d+)", line)
        if not m: continue
        got = int(line.split()[0]); seq = int(m[1]); put = int(m[2])
        seen[seq] = seen.get(seq, 0) + 1
        if seen[seq] == 1: lags.append((got - put) / 1000)
    lags.sort()
    if not lags:
        print(f"{name:7s} no events"); continue
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    dup = sum(v - 1 for v in seen.values())
    print(f"{name:7s} lag median {statistics.median(lags):.2f} s  p99 {p99:.2f} s  max {lags[-1]:.2f} s  "
          f"events {len(seen)}/{sent}  twice {dup}")
PY
# calls per minute: each server's POSTs over the follow time, minus the writer's one per event
N=$((SECS * 10))
awk -v a=$((a1 - a0 - N)) -v b=$((b1 - b0 - N)) -v t0="$T0" -v t1="$T1" 'BEGIN {
    m = (t1 - t0) / 60; printf "AWS calls/min: tandem %.1f, awslogs %.1f\n", a / m, b / m }'
