# Shared set-up for the benchmark scripts (sourced): a release build of tandem and, when asked,
# a Python virtual environment with the comparison tools.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${TANDEM_BENCH_CACHE:-$HOME/.cache/tandem/bench}"
mkdir -p "$CACHE"
# TANDEM_BIN=PATH measures that binary instead of building one
if [ -n "${TANDEM_BIN:-}" ]; then
    TANDEM="$(realpath "$TANDEM_BIN")"
else
    cargo build --release --locked --manifest-path "$ROOT/Cargo.toml" >&2
    TANDEM="${CARGO_TARGET_DIR:-$ROOT/target}/release/tandem"
fi

# bench_venv PKG...: a venv under the cache with these packages; sets PY
bench_venv() {
    local venv="$CACHE/venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$@" >&2
    PY="$venv/bin/python"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# bench_project FILE NAME PREPROCESS SOLVE: a two-phase project file whose phases run the commands
# PREPROCESS and SOLVE (TOML arrays) on the local target, with a one-file raw dataset under
# $TANDEM_HOME's store. Append [[plots]] and the like to FILE as needed.
bench_project() {
    mkdir -p "$TANDEM_HOME/store/lake/$2/raw"
    echo x > "$TANDEM_HOME/store/lake/$2/raw/a.csv"
    cat > "$1" <<T
[project]
name = "$2"
[storage]
root = "lake/$2"
[datasets.raw]
path = "raw"
[phases.preprocess]
engine = "ray"
inputs = ["raw"]
output = "runs/{run}/prepared"
[phases.preprocess.local]
command = $3
[phases.solve]
engine = "slurm"
inputs = ["handoff"]
output = "runs/{run}/solution"
[phases.solve.local]
command = $4
[handoff]
from = "preprocess"
to = "solve"
T
}
