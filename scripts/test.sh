#!/usr/bin/env bash
# The one test command: installs what the tests need on this machine, then runs every test.
# Nothing is skipped: a test whose tool or service is missing fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
trap stop_services EXIT

# tmux drives the end-to-end TUI test; python3-venv makes the moto environment
have tmux || apt_install tmux
# curl: the Ray Jobs API requests tandem makes through a transport, and the test script's readiness checks
have curl || apt_install curl
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
# real Slurm with munge and its accounting (slurmdbd over MariaDB), and sshd, for the Slurm
# engine over the local and SSH transports
if ! have slurmctld || ! have munged || ! have slurmdbd || ! have mariadbd || [ ! -x /usr/sbin/sshd ] || ! have ssh; then
    apt_install slurm-wlm slurmdbd mariadb-server munge openssh-server openssh-client
fi

start_s3s
start_garage
start_moto
start_slurm
start_sshd
start_ray
# the test credential of the local servers only (services.sh): s3s-fs and Garage check it, moto
# accepts any
export AWS_ACCESS_KEY_ID="$TANDEM_TEST_KEY_ID" AWS_SECRET_ACCESS_KEY="$TANDEM_TEST_SECRET" AWS_REGION=us-east-1
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3

echo "== cargo test (target dir: ${CARGO_TARGET_DIR:-target})"
LOG="$(mktemp)"
set +e
cargo test --locked --all-targets 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e
# one closing line for the whole run
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$LOG"
rm -f "$LOG"
exit "$status"
