#!/usr/bin/env bash
# Orchestration overhead across real engines: runs the sample pipeline on a target whose preprocess
# goes to a real Ray head and whose solve goes to a real Slurm (both started here on 127.0.0.1 and
# stopped by PID), then prints how long tandem took from phase 1's end to phase 2's submission.
# Also: tandem's start to the Ray job's submission (as Ray records it), and the Ray job's end (as Ray
# records it) to tandem marking phase 1 ended (at most one 0.5 s status poll).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q
BIN="${TANDEM_BIN:-${CARGO_TARGET_DIR:-target}/debug/tandem}"
source scripts/services.sh; trap stop_services EXIT
start_slurm >/dev/null; start_ray >/dev/null
D=$(mktemp -d); cp -r sample-projects/heat-diffusion $D/hd
cat >> $D/hd/tandem.toml <<T
[targets.ray-slurm]
kind = "slurm"
transport = "local"
slurm_conf = "$SLURM_CONF"
work_dir = "$D/cluster"
poll_seconds = 0.3
ray_dashboard = "$TANDEM_TEST_RAY"
T
T0=$(date +%s.%N)
TANDEM_HOME=$D/home "$BIN" run $D/hd/tandem.toml --target ray-slurm --json > $D/out.json
python3 - $D/out.json "$T0" "$TANDEM_TEST_RAY" <<'P'
import json,sys,datetime as dt,urllib.request
ev=[json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
run=[e for e in ev if e.get('event')=='end'][0]['run']
t=lambda s: dt.datetime.fromisoformat(s.replace('Z','+00:00'))
pre,sol=run['phases']
job=json.load(urllib.request.urlopen(sys.argv[3] + '/api/jobs/' + pre['engine_id']))
t0=float(sys.argv[2])
print('state', run['state'])
# what Ray itself records: when the job record was made (the submission arrived) and when it ended
print('tandem started -> Ray job submitted (project load, dataset check, working_dir packaged and uploaded):',
      round(job['start_time']/1000 - t0, 3), 's')
print('Ray job ended -> tandem saw phase 1 end:', round(t(pre['ended']).timestamp() - job['end_time']/1000, 3), 's')
print('preprocess', pre['started'], '->', pre['ended'], (t(pre['ended'])-t(pre['started'])).total_seconds(), 's')
print('solve', sol['started'], '->', sol['ended'], (t(sol['ended'])-t(sol['started'])).total_seconds(), 's')
print('phase 1 ended -> phase 2 submitted:', (t(sol['started'])-t(pre['ended'])).total_seconds(), 's')
P
rm -rf $D
