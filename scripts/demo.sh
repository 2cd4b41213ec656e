#!/usr/bin/env bash
# See the real engines: a single-node Slurm (with munge) and a Ray head on 127.0.0.1, started the
# way the tests start them (installing what is missing), a target for them written into a copy of
# the sample project, the pipeline run there (Ray preprocess, then the Slurm solve), and the TUI
# left open on the finished run until you quit (1 Pipeline, 4 Logs, 6 Plots, 8 Jobs, 9 Clusters
# then r for the Ray cluster). Every service is stopped by its PID when the TUI exits.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
t0=$(date +%s.%N)
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(date +%s.%N)"; }
source scripts/services.sh
trap stop_services EXIT

have curl || apt_install curl
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
if ! have slurmctld || ! have munged || ! have slurmdbd || ! have mariadbd; then
    apt_install slurm-wlm slurmdbd mariadb-server munge
fi

TANDEM="${TANDEM_BIN:-}"
if [ -z "$TANDEM" ]; then
    echo "== building tandem (release)"
    cargo build --release --quiet
    TANDEM="${CARGO_TARGET_DIR:-$ROOT/target}/release/tandem"
fi
TANDEM="$(cd "$(dirname "$TANDEM")" && pwd)/$(basename "$TANDEM")"

echo "== starting Slurm and Ray on 127.0.0.1"
start_slurm
start_ray
t_services=$(since "$t0")

# the sample, with a target that runs phase 1 on this Ray head and phase 2 on this Slurm
PROJ="$RUN_DIR/heat-diffusion"
mkdir -p "$PROJ"
cp -r sample-projects/heat-diffusion/. "$PROJ/"
cat >>"$PROJ/tandem.toml" <<TOML

[targets.demo]
kind = "slurm"
transport = "local"
slurm_conf = "$SLURM_CONF"
ray_dashboard = "$TANDEM_TEST_RAY"
TOML
export TANDEM_HOME="$RUN_DIR/home"
"$TANDEM" check "$PROJ/tandem.toml"

echo "== running the pipeline on target demo (Ray, then Slurm)"
t1=$(date +%s.%N)
PATH="$(dirname "$TANDEM_RAY_PYTHON"):$PATH" "$TANDEM" run "$PROJ/tandem.toml" --target demo --json >"$RUN_DIR/run.jsonl"
t_run=$(since "$t1")
# tandem's own part: the run's wall time less the time its phases spent on the engines
own=$(python3 - "$RUN_DIR/run.jsonl" "$t_run" <<'PY'
import json, sys
from datetime import datetime
end = [json.loads(l) for l in open(sys.argv[1]) if '"end"' in l][-1]["run"]
t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
engines = sum(t(p["ended"]) - t(p["started"]) for p in end["phases"] if p.get("started") and p.get("ended"))
print(f"{end['state']} {engines:.1f} {float(sys.argv[2]) - engines:.2f}")
PY
)
read -r state engines own_s <<<"$own"
echo "== run $state in ${t_run}s: ${engines}s on Ray and Slurm, ${own_s}s tandem's own (process start, staging, handoff, polls)"
echo "== services took ${t_services}s to start; $(since "$t0")s from the start of this script to the TUI"
echo "== the TUI opens on the finished run: 4 logs, 6 plots, 8 the Slurm queue, 9 then r the Ray cluster; q quits and stops the services"
"$TANDEM" "$PROJ/tandem.toml" --target demo
