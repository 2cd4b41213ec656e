# Real services for the tests, on 127.0.0.1 (sourced by scripts/test.sh). Each start_* installs what
# is missing, starts the server on a free port with its own data directory, waits for the port and
# records the PID; stop_services stops every one of them by PID.
TOOLS="${TANDEM_TOOLS:-$HOME/.cache/tandem/tools}"
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/tandem-services.XXXXXX")"
PIDS=()

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_port() { # port, name, pid
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        kill -0 "$3" 2>/dev/null || { echo "$2 exited; its log:" >&2; cat "$RUN_DIR/$2.log" >&2; return 1; }
        sleep 0.1
    done
    echo "$2 did not open port $1" >&2
    return 1
}

stop_services() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$RUN_DIR"
}

# s3s-fs: a real S3 server that checks SigV4 signatures (0.14.1 is the newest that builds on rustc 1.95)
start_s3s() {
    if [ ! -x "$TOOLS/bin/s3s-fs" ]; then
        echo "== installing s3s-fs 0.14.1 into $TOOLS (about 3 minutes, once)"
        cargo install s3s-fs@0.14.1 --locked --features binary --root "$TOOLS" --quiet
    fi
    local port; port=$(free_port)
    mkdir -p "$RUN_DIR/s3s-data"
    "$TOOLS/bin/s3s-fs" --host 127.0.0.1 --port "$port" --access-key test --secret-key testsecret "$RUN_DIR/s3s-data" >"$RUN_DIR/s3s.log" 2>&1 &
    PIDS+=($!)
    wait_port "$port" s3s $!
    export TANDEM_TEST_S3S="http://127.0.0.1:$port"
    export TANDEM_S3S_BIN="$TOOLS/bin/s3s-fs"
    echo "== s3s-fs on $TANDEM_TEST_S3S (pid $!)"
}

# moto: the AWS API mock, for what cannot be had offline and as the second S3 implementation
start_moto() {
    local venv="${TANDEM_MOTO_VENV:-$HOME/.cache/tandem/moto-venv}"
    if [ ! -x "$venv/bin/moto_server" ]; then
        echo "== installing moto[server] and awscli into $venv (once)"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]' awscli
    fi
    local port; port=$(free_port)
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$RUN_DIR/moto.log" 2>&1 &
    PIDS+=($!)
    wait_port "$port" moto $!
    export TANDEM_TEST_MOTO="http://127.0.0.1:$port"
    echo "== moto on $TANDEM_TEST_MOTO (pid $!)"
}
