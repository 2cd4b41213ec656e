# Real services for the tests, on 127.0.0.1 (sourced by scripts/test.sh). Each start_* installs what
# is missing, starts the server on a free port with its own data directory, waits for the port and
# records the PID; stop_services stops every one of them by PID.
TOOLS="${TANDEM_TOOLS:-$HOME/.cache/tandem/tools}"
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/tandem-services.XXXXXX")"
PIDS=()

have() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}

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

# One credential for every local S3 server, in the shape Garage requires (GK + 24 hex digits, a
# 64-hex-digit secret): s3s-fs is started with it, Garage imports it, moto accepts anything. Test
# servers on 127.0.0.1 only; nothing real is reached with it.
export TANDEM_TEST_KEY_ID="GK74616e64656d2d746573742d"
export TANDEM_TEST_SECRET="74616e64656d2074657374207365637265742c206c6f63616c686f7374206f6e6c"

# s3s-fs: a real S3 server that checks SigV4 signatures (0.14.1 is the newest that builds on rustc 1.95)
start_s3s() {
    if [ ! -x "$TOOLS/bin/s3s-fs" ]; then
        echo "== installing s3s-fs 0.14.1 into $TOOLS (about 3 minutes, once)"
        cargo install s3s-fs@0.14.1 --locked --features binary --root "$TOOLS" --quiet
    fi
    local port; port=$(free_port)
    mkdir -p "$RUN_DIR/s3s-data"
    "$TOOLS/bin/s3s-fs" --host 127.0.0.1 --port "$port" --access-key "$TANDEM_TEST_KEY_ID" --secret-key "$TANDEM_TEST_SECRET" "$RUN_DIR/s3s-data" >"$RUN_DIR/s3s.log" 2>&1 &
    PIDS+=($!)
    wait_port "$port" s3s $!
    export TANDEM_TEST_S3S="http://127.0.0.1:$port"
    export TANDEM_S3S_BIN="$TOOLS/bin/s3s-fs"
    echo "== s3s-fs on $TANDEM_TEST_S3S (pid $!)"
}

# Garage: a production S3 store (AGPL; run, never linked), the fast server of the S3 tests and
# benchmarks. Single node, sqlite metadata, region us-east-1 (as the other test servers), the test
# credential imported with every permission, buckets created by the tests. Built once without LTO
# and with only the features used (about 19 CPU-minutes, in a temporary target directory).
GARAGE_VERSION=2.5.0
start_garage() {
    # `garage --version` prints `garage cargo:2.5.0 [features: ...]`
    if ! "$TOOLS/bin/garage" --version 2>/dev/null | grep -q ":$GARAGE_VERSION "; then
        echo "== building Garage $GARAGE_VERSION into $TOOLS (about 19 CPU-minutes: 31 min beside another build on 2 cores, once)"
        env -u CARGO_TARGET_DIR CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
            CARGO_PROFILE_RELEASE_DEBUG=0 cargo install "garage@$GARAGE_VERSION" --locked --quiet \
            --no-default-features --features bundled-libs,sqlite --root "$TOOLS"
    fi
    local d="$RUN_DIR/garage" s3 rpc admin pid node=""
    s3=$(free_port); rpc=$(free_port); admin=$(free_port)
    mkdir -p "$d"
    cat >"$d/garage.toml" <<TOML
metadata_dir = "$d/meta"
data_dir = "$d/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(python3 -c 'import secrets; print(secrets.token_hex(32))')"

[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
TOML
    "$TOOLS/bin/garage" -c "$d/garage.toml" server >"$RUN_DIR/garage.log" 2>&1 &
    pid=$!
    PIDS+=($pid)
    wait_port "$s3" garage $pid
    local g=("$TOOLS/bin/garage" -c "$d/garage.toml")
    for _ in $(seq 100); do
        node=$("${g[@]}" node id -q 2>/dev/null | cut -d@ -f1) && [ -n "$node" ] && break
        sleep 0.1
    done
    [ -n "$node" ] || { echo "garage: no node id; its log:" >&2; cat "$RUN_DIR/garage.log" >&2; return 1; }
    "${g[@]}" layout assign -z dc1 -c 10G "$node" >/dev/null
    "${g[@]}" layout apply --version 1 >/dev/null
    "${g[@]}" key import --yes -n tandem-test "$TANDEM_TEST_KEY_ID" "$TANDEM_TEST_SECRET" >/dev/null
    "${g[@]}" key allow --create-bucket tandem-test >/dev/null
    export TANDEM_TEST_GARAGE="http://127.0.0.1:$s3"
    export TANDEM_GARAGE_BIN="$TOOLS/bin/garage"
    echo "== garage on $TANDEM_TEST_GARAGE (pid $pid)"
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

# Ray (PyPI ray[default,data]): a head node on 127.0.0.1 with its own temp dir, in the foreground
# (--block) so that stopping its PID stops every Ray process it started. Exports TANDEM_TEST_RAY
# (the dashboard URL), TANDEM_TEST_RAY_TMP and TANDEM_RAY_PYTHON (the venv's python).
start_ray() {
    local venv="${TANDEM_RAY_VENV:-$HOME/.cache/tandem/ray-venv}"
    # numpy and pyarrow (with ray[data]) and polars write the plot and Parquet fixtures
    if [ ! -x "$venv/bin/ray" ] || ! "$venv/bin/python" -c 'import polars, pyarrow, numpy' 2>/dev/null; then
        echo "== installing ray[default,data] and polars into $venv (once, about a minute)"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check 'ray[default,data]' polars
    fi
    local gcs dash client agent; gcs=$(free_port); dash=$(free_port); client=$(free_port); agent=$(free_port)
    mkdir -p "$RUN_DIR/ray"
    PATH="$venv/bin:$PATH" RAY_USAGE_STATS_ENABLED=0 "$venv/bin/ray" start --head --block \
        --node-ip-address=127.0.0.1 --port="$gcs" --dashboard-host=127.0.0.1 --dashboard-port="$dash" \
        --ray-client-server-port="$client" --dashboard-agent-listen-port="$agent" \
        --num-cpus=2 --temp-dir="$RUN_DIR/ray" --disable-usage-stats >"$RUN_DIR/ray.log" 2>&1 &
    local pid=$!
    PIDS+=($pid)
    for _ in $(seq 240); do
        if curl -sf "http://127.0.0.1:$dash/api/version" >/dev/null 2>&1 \
            && curl -sf "http://127.0.0.1:$dash/api/jobs/" >/dev/null 2>&1; then break; fi
        kill -0 "$pid" 2>/dev/null || { echo "ray exited; its log:" >&2; cat "$RUN_DIR/ray.log" >&2; return 1; }
        sleep 0.5
    done
    curl -sf "http://127.0.0.1:$dash/api/jobs/" >/dev/null || { echo "ray's Jobs API did not come up" >&2; cat "$RUN_DIR/ray.log" >&2; return 1; }
    export TANDEM_TEST_RAY="http://127.0.0.1:$dash"
    export TANDEM_TEST_RAY_TMP="$RUN_DIR/ray"
    export TANDEM_RAY_PYTHON="$venv/bin/python"
    echo "== ray on $TANDEM_TEST_RAY (pid $pid)"
}

# Slurm's accounting: a private MariaDB on 127.0.0.1 (its own data dir, no grant tables: nothing
# but this slurmdbd reaches it) and slurmdbd over it, so that sacct answers as on a real
# cluster: states such as OUT_OF_MEMORY and TIMEOUT, elapsed, MaxRSS, TotalCPU. Sets DBD_PORT.
start_slurmdbd() {
    local d="$1/dbd" mport
    mkdir -p "$d"
    mport=$(free_port); DBD_PORT=$(free_port)
    mariadb-install-db --no-defaults --datadir="$d/db" --user=root \
        --auth-root-authentication-method=normal --skip-test-db >"$RUN_DIR/mariadb-install.log" 2>&1 \
        || { cat "$RUN_DIR/mariadb-install.log" >&2; return 1; }
    mariadbd --no-defaults --datadir="$d/db" --port="$mport" --bind-address=127.0.0.1 \
        --socket="$d/mysql.sock" --user=root --skip-grant-tables --skip-log-bin \
        --innodb-buffer-pool-size=32M >"$RUN_DIR/mariadb.log" 2>&1 &
    PIDS+=($!)
    wait_port "$mport" mariadb $!
    # slurmdbd reads slurmdbd.conf beside slurm.conf (mode 600, owned by SlurmUser)
    cat >"$1/slurmdbd.conf" <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$mport
StorageUser=root
StorageLoc=slurm_acct_db
PidFile=$d/slurmdbd.pid
LogFile=$d/slurmdbd.log
CONF
    chmod 600 "$1/slurmdbd.conf"
    SLURM_CONF="$1/slurm.conf" slurmdbd -D >"$RUN_DIR/slurmdbd.log" 2>&1 &
    PIDS+=($!)
    wait_port "$DBD_PORT" slurmdbd $!
}

# Slurm (Debian's slurm-wlm) with munge, single node: slurmctld and slurmd in the foreground with a
# fresh state directory, on free ports. Exports SLURM_CONF.
start_slurm() {
    local d="$RUN_DIR/slurm"
    mkdir -p "$d/state" "$d/spool" "$d/log"
    chmod 755 "$RUN_DIR" "$d"
    # munged: one per machine (its socket is fixed); reuse a running one, else start ours
    if ! pgrep -x munged >/dev/null; then
        mkdir -p /run/munge
        chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
        setpriv --reuid munge --regid munge --init-groups munged -F >"$RUN_DIR/munged.log" 2>&1 &
        PIDS+=($!)
        for _ in $(seq 50); do [ -S /run/munge/munge.socket.2 ] && break; sleep 0.1; done
    fi
    start_slurmdbd "$d"
    local cport dport; cport=$(free_port); dport=$(free_port)
    cat >"$d/slurm.conf" <<CONF
ClusterName=tandemtest
SlurmctldHost=localhost
SlurmctldPort=$cport
SlurmdPort=$dport
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/cgroup
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
JobCompType=jobcomp/filetxt
JobCompLoc=$d/log/jobcomp.txt
MinJobAge=600
ReturnToService=2
SchedulerParameters=defer_batch
OverTimeLimit=0
KillWait=5
InactiveLimit=0
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=20000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
    # memory limits enforced as on a real cluster: a job over its --mem is killed by the kernel
    # in its cgroup and ends OUT_OF_MEMORY
    cat >"$d/cgroup.conf" <<CONF
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainRAMSpace=yes
ConstrainSwapSpace=yes
CONF
    export SLURM_CONF="$d/slurm.conf"
    slurmctld -D -i >"$RUN_DIR/slurmctld.log" 2>&1 &
    PIDS+=($!)
    wait_port "$cport" slurmctld $!
    slurmd -D -N localhost >"$RUN_DIR/slurmd.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 300); do
        [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break
        sleep 0.1
    done
    [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] || { echo "slurm did not come up:" >&2; cat "$d/log/"*.log "$RUN_DIR/slurm"*.log >&2; return 1; }
    echo "== slurm on port $cport (SLURM_CONF=$SLURM_CONF)"
}

# sshd on 127.0.0.1 with a generated host key and client key; exports what the SSH tests need
start_sshd() {
    local d="$RUN_DIR/ssh"
    mkdir -p "$d" /run/sshd
    ssh-keygen -q -t ed25519 -N '' -f "$d/host_key"
    ssh-keygen -q -t ed25519 -N '' -f "$d/client_key"
    cp "$d/client_key.pub" "$d/authorized_keys"
    local port; port=$(free_port)
    cat >"$d/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $d/host_key
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $d/sshd.pid
CONF
    /usr/sbin/sshd -D -e -f "$d/sshd_config" >"$RUN_DIR/sshd.log" 2>&1 &
    PIDS+=($!)
    wait_port "$port" sshd $!
    echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$d/host_key.pub")" >"$d/known_hosts"
    export TANDEM_TEST_SSH_PORT="$port" TANDEM_TEST_SSH_KEY="$d/client_key" TANDEM_TEST_SSH_KNOWN_HOSTS="$d/known_hosts"
    echo "== sshd on 127.0.0.1:$port"
}
