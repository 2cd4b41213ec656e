#!/usr/bin/env bash
# The one test command: installs what the tests need on this machine, then runs every test.
# Nothing is skipped: a test whose tool or service is missing fails.
set -euo pipefail
cd "$(dirname "$0")/.."

have() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}

# tmux drives the end-to-end TUI test
have tmux || apt_install tmux

echo "== cargo test (target dir: ${CARGO_TARGET_DIR:-target})"
cargo test --locked --all-targets
