#!/usr/bin/env bash
# Orchestration overhead across real engines: runs the sample pipeline on a target whose preprocess
# goes to a real Ray head and whose solve goes to a real Slurm (both started here on 127.0.0.1 and
# stopped by PID), then prints how long tandem took from phase 1's end to phase 2's submission.
# End detection itself adds at most one Ray status poll (0.5 s).
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
TANDEM_HOME=$D/home "$BIN" run $D/hd/tandem.toml --target ray-slurm --json > $D/out.json
python3 - $D/out.json <<'P'
import json,sys,datetime as dt
ev=[json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
run=[e for e in ev if e.get('event')=='end'][0]['run']
t=lambda s: dt.datetime.fromisoformat(s.replace('Z','+00:00'))
pre,sol=run['phases']
print('state', run['state'])
print('preprocess', pre['started'], '->', pre['ended'], (t(pre['ended'])-t(pre['started'])).total_seconds(), 's')
print('solve', sol['started'], '->', sol['ended'], (t(sol['ended'])-t(sol['started'])).total_seconds(), 's')
print('phase 1 ended -> phase 2 submitted:', (t(sol['started'])-t(pre['ended'])).total_seconds(), 's')
P
rm -rf $D
