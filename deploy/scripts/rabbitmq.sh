#!/usr/bin/env bash
# A private RabbitMQ node as a plain background process, for tests and local development.
#
#   rabbitmq.sh install            install Debian's rabbitmq-server with apt-get if it is absent
#   rabbitmq.sh start DIR          start a node whose whole state lives under DIR; print its AMQP URL
#   rabbitmq.sh stop DIR           stop that node (idempotent: a stopped or never started DIR is fine)
#   rabbitmq.sh ctl DIR ARGS...    run `rabbitmqctl ARGS...` against that node
#   rabbitmq.sh join DIR PEER_DIR  make the node of DIR join the cluster of the node of PEER_DIR
#                                  (both started; DIR's node is reset: it must hold nothing yet)
#
# Why not the system service: CI and dev containers have no systemd, tests need several brokers at
# once, and nothing may outlive the test run. So the node runs from the package's real scripts (the
# `/usr/sbin` wrappers `su` to the `rabbitmq` user and `cd` into /var/lib/rabbitmq), configured only
# through RABBITMQ_* variables (see ../shared/notes/stack.md §2).
#
# After `start`, DIR holds:
#   amqp_url      amqp://guest:guest@127.0.0.1:PORT/%2f (the guest user is loopback-only: what we want)
#   env           `export` lines (bash syntax) that address the node with rabbitmqctl:
#                 `. DIR/env && "$NIANBAO_RABBITMQ_SBIN/rabbitmqctl" status`
#   amqps_url     amqps://guest:guest@localhost:PORT/%2f, only when DIR/tls/ held ca.pem, server.pem
#                 and server-key.pem before `start` (a certificate for localhost, e.g. from
#                 `nianbao certs init --dir DIR/tls`): the node then also listens with TLS
#   rabbit.pid    pid of beam.smp;  launcher.pid: pid of the wrapper shell, also the node's process group
#   server.out, log/  the node's console output and logs;  mnesia/  its data
#
# Several nodes may run at once: each gets a unique node name (nianbao-<random>@localhost) and a
# block of 16 free loopback ports (AMQP, Erlang distribution, and the CLI tools' distribution range,
# which otherwise is one fixed range 35672-35682 for every node on the machine). All nodes share one
# epmd on 127.0.0.1:4369; the last nianbao node to stop kills it, never one that has other nodes
# registered or that this script did not start. Starting and stopping hold a machine-wide lock
# (${TMPDIR:-/tmp}/nianbao-rabbitmq.lock) only around picking ports / registering with epmd and
# around the epmd clean-up, so parallel starts cannot pick the same ports.
#
# A node started again in the same DIR (after `stop`) keeps its node name and ports (DIR/identity):
# its cluster peers and its clients find it where it was. If a port of its block was taken
# meanwhile, that start fails rather than come back as another node.
#
# Environment: NIANBAO_RABBITMQ_START_TIMEOUT (seconds, default 120) bounds the wait for a full boot.
set -euo pipefail

PROG=rabbitmq.sh
LOCK_FILE="${TMPDIR:-/tmp}/nianbao-rabbitmq.lock"
# Present while the running epmd is one that a nianbao node started (so ours to kill when unused).
EPMD_MARKER="${TMPDIR:-/tmp}/nianbao-rabbitmq.epmd"
START_TIMEOUT="${NIANBAO_RABBITMQ_START_TIMEOUT:-120}"

die() {
    echo "$PROG: error: $*" >&2
    exit 1
}

note() {
    echo "$PROG: $*" >&2
}

# The package's real sbin directory, asked from dpkg so that no version is hard-coded.
# Exit code 3 (tested by the Rust harness) means "not installed".
find_sbin() {
    local files ctl
    if ! files=$(dpkg -L rabbitmq-server 2>/dev/null); then
        echo "$PROG: error: rabbitmq-server is not installed; run deploy/scripts/rabbitmq.sh install (as root)" >&2
        exit 3
    fi
    ctl=$(grep -m1 'rabbitmq_server-.*/sbin/rabbitmqctl$' <<<"$files" || true)
    [ -n "$ctl" ] || die "dpkg -L rabbitmq-server lists no rabbitmq_server-*/sbin/rabbitmqctl"
    dirname "$ctl"
}

# TCP ports something listens on (IPv4 and IPv6), one per line, from /proc (no ss/netstat needed).
listening_ports() {
    local f local_addr st
    for f in /proc/net/tcp /proc/net/tcp6; do
        [ -r "$f" ] || continue
        # Columns: sl local_address rem_address st ...; state 0A is LISTEN.
        while read -r _ local_addr _ st _; do
            [ "$st" = "0A" ] && echo $((16#${local_addr##*:}))
        done < <(tail -n +2 "$f")
    done
}

# Picks a block of 16 ports [B, B+15], B in 10000..29984, all free; below the kernel's ephemeral
# range (32768+), so outgoing connections do not take them meanwhile. Prints B.
pick_port_block() {
    local busy base p free
    busy=" $(listening_ports | tr '\n' ' ') "
    for _ in $(seq 1 200); do
        base=$((10000 + 16 * ((RANDOM * 32768 + RANDOM) % 1250)))
        free=1
        for p in $(seq "$base" $((base + 15))); do
            case "$busy" in *" $p "*)
                free=0
                break
                ;;
            esac
        done
        if [ "$free" = 1 ]; then
            echo "$base"
            return 0
        fi
    done
    die "found no block of 16 free ports in 10000-29999"
}

pid_alive() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null
}

# Waits up to $2 seconds for pid $1 to exit.
wait_pid_gone() {
    local pid=$1 deadline=$((SECONDS + $2))
    while pid_alive "$pid"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# Waits up to $2 seconds until no process is left in process group $1.
wait_group_gone() {
    local pgid=$1 deadline=$((SECONDS + $2))
    while kill -0 -- "-$pgid" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# The lock file is opened read-only and created world-readable, so that root and other users on one
# machine can share it (flock needs no write access).
lock() {
    [ -e "$LOCK_FILE" ] || (umask 000 && : >>"$LOCK_FILE") || true
    exec 9<"$LOCK_FILE"
    flock -w 300 9 || die "could not take $LOCK_FILE within 300 s"
}

unlock() {
    flock -u 9 2>/dev/null || true
    exec 9>&-
}

epmd_running() {
    epmd -names >/dev/null 2>&1
}

# Registered node names, one per line ("name X at port N" lines of `epmd -names`).
epmd_names() {
    epmd -names 2>/dev/null | sed -n 's/^name \(.*\) at port .*/\1/p'
}

# Erlang reads the cookie from $HOME/.erlang.cookie for the server and the CLI alike; create it once,
# atomically and under the lock, so parallel first starts do not race to write it.
ensure_cookie() {
    local cookie="$HOME/.erlang.cookie" tmp
    [ -s "$cookie" ] && return 0
    tmp=$(mktemp "$HOME/.erlang.cookie.XXXXXX")
    LC_ALL=C tr -dc '[:upper:]' </dev/urandom | head -c 20 >"$tmp"
    chmod 400 "$tmp"
    mv -n "$tmp" "$cookie"
    rm -f "$tmp"
}

# Writes the settings for node $1 (short name), port block $2 into DIR/env.
write_env() {
    local short=$1 base=$2
    {
        echo "# Generated by deploy/scripts/rabbitmq.sh: addresses the node under this folder."
        printf 'export %s=%q\n' \
            NIANBAO_RABBITMQ_SBIN "$SBIN" \
            NIANBAO_RABBITMQ_DIR "$DIR" \
            RABBITMQ_NODENAME "$short@localhost" \
            RABBITMQ_NODE_IP_ADDRESS 127.0.0.1 \
            RABBITMQ_NODE_PORT "$base" \
            RABBITMQ_DIST_PORT $((base + 1)) \
            RABBITMQ_CTL_DIST_PORT_MIN $((base + 2)) \
            RABBITMQ_CTL_DIST_PORT_MAX $((base + 14)) \
            NIANBAO_RABBITMQ_TLS_PORT $((base + 15)) \
            ERL_EPMD_ADDRESS 127.0.0.1 \
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS "-kernel inet_dist_use_interface {127,0,0,1}" \
            RABBITMQ_CTL_ERL_ARGS "-kernel inet_dist_use_interface {127,0,0,1}" \
            RABBITMQ_CONF_ENV_FILE "$DIR/rabbitmq-env.conf" \
            RABBITMQ_CONFIG_FILE "$DIR/rabbitmq.conf" \
            RABBITMQ_ADVANCED_CONFIG_FILE "$DIR/advanced.config" \
            RABBITMQ_ENABLED_PLUGINS_FILE "$DIR/enabled_plugins" \
            RABBITMQ_MNESIA_BASE "$DIR/mnesia" \
            RABBITMQ_LOG_BASE "$DIR/log" \
            RABBITMQ_PID_FILE "$DIR/rabbit.pid"
    } >"$DIR/env"
}

# rabbitmq.conf: nothing but the TLS listener, when DIR/tls holds its files (the plain listener is
# set by RABBITMQ_NODE_IP_ADDRESS/PORT). Peers may present a client certificate (verified against
# the CA) but need not: users authenticate with passwords.
write_conf() {
    : >"$DIR/rabbitmq.conf"
    tls_enabled || return 0
    {
        echo "listeners.ssl.default = 127.0.0.1:$NIANBAO_RABBITMQ_TLS_PORT"
        echo "ssl_options.cacertfile = $DIR/tls/ca.pem"
        echo "ssl_options.certfile = $DIR/tls/server.pem"
        echo "ssl_options.keyfile = $DIR/tls/server-key.pem"
        echo "ssl_options.verify = verify_peer"
        echo "ssl_options.fail_if_no_peer_cert = false"
    } >"$DIR/rabbitmq.conf"
}

tls_enabled() {
    [ -f "$DIR/tls/ca.pem" ] && [ -f "$DIR/tls/server.pem" ] && [ -f "$DIR/tls/server-key.pem" ]
}

tail_logs() {
    local f
    for f in "$DIR/server.out" "$DIR"/log/*.log; do
        [ -s "$f" ] || continue
        echo "----- last lines of $f -----" >&2
        tail -n 30 "$f" >&2
    done
}

# Kills whatever a failed start left (the launcher's whole process group). Used before a retry.
kill_node_group() {
    local launcher
    launcher=$(cat "$DIR/launcher.pid" 2>/dev/null || true)
    [ -n "$launcher" ] || return 0
    kill -TERM -- "-$launcher" 2>/dev/null || true
    wait_group_gone "$launcher" 15 || kill -KILL -- "-$launcher" 2>/dev/null || true
    wait_group_gone "$launcher" 5 || true
}

# One attempt to boot a node. Returns 0 when fully booted, 2 when a port was taken meanwhile (worth
# a retry with other ports), 1 on any other failure.
start_attempt() {
    local base short launcher deadline
    lock
    ensure_cookie
    # An epmd we start now is ours to kill when the last node leaves; a running one without our
    # marker belongs to someone else and is left alone.
    if ! epmd_running; then
        rm -f "$EPMD_MARKER" || true
        ERL_EPMD_ADDRESS=127.0.0.1 epmd -daemon </dev/null >/dev/null 2>&1 9>&-
        (umask 000 && : >"$EPMD_MARKER") || true
    fi
    if [ -s "$DIR/identity" ]; then
        # A restart: the same node, at the same ports.
        read -r short base <"$DIR/identity"
    else
        base=$(pick_port_block)
        short="nianbao-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
    fi
    write_env "$short" "$base"
    # shellcheck source=/dev/null
    . "$DIR/env"
    write_conf
    # Logs of an earlier attempt would mislead return_failure's eaddrinuse test.
    rm -f "$RABBITMQ_PID_FILE" "$DIR/launcher.pid" "$DIR"/log/*.log

    # setsid: its own session and process group, so a Ctrl-C aimed at the caller (cargo test) does
    # not reach it and `stop` can kill the group as a last resort. 9>&-: the node must not inherit
    # the lock. All output goes to a file so callers capturing our stdout are not held open.
    setsid "$SBIN/rabbitmq-server" </dev/null >"$DIR/server.out" 2>&1 9>&- &
    launcher=$!
    echo "$launcher" >"$DIR/launcher.pid"

    # Keep the lock until the node has registered with epmd: from then on its distribution port
    # (inside the block) listens, so a parallel start sees the block as taken.
    deadline=$((SECONDS + 60))
    until epmd_names | grep -qx "$short"; do
        if ! pid_alive "$launcher" || [ "$SECONDS" -ge "$deadline" ]; then
            unlock
            return_failure "node $short did not register with epmd"
            return $?
        fi
        sleep 0.1
    done
    unlock

    # Registered is not booted: ping answers once the VM is up, await_startup once the rabbit
    # application (and so the AMQP listener) is. await_startup before ping fails at once (rc 69).
    deadline=$((SECONDS + START_TIMEOUT))
    until "$SBIN/rabbitmq-diagnostics" -q ping >/dev/null 2>&1; do
        if ! pid_alive "$launcher" || [ "$SECONDS" -ge "$deadline" ]; then
            return_failure "node $short does not answer rabbitmq-diagnostics ping"
            return $?
        fi
        sleep 0.3
    done
    local left=$((deadline - SECONDS))
    [ "$left" -gt 1 ] || left=1
    if ! "$SBIN/rabbitmqctl" -q await_startup --timeout "$left" >/dev/null 2>&1; then
        return_failure "node $short did not finish booting within ${START_TIMEOUT} s"
        return $?
    fi
    return 0
}

# Reports a failed attempt: 2 if the cause was a port taken by someone else, else 1 (with logs).
return_failure() {
    if grep -qs 'eaddrinuse' "$DIR/server.out" "$DIR"/log/*.log; then
        note "$1: a port was taken meanwhile; retrying with other ports"
        kill_node_group
        return 2
    fi
    # Clean up before printing: a caller that stops reading (`| head`) must not leave a node behind.
    kill_node_group
    echo "$PROG: error: $1 (folder $DIR)" >&2
    tail_logs
    return 1
}

cmd_start() {
    local rc
    [ $# -eq 1 ] || die "usage: $PROG start DIR"
    SBIN=$(find_sbin)
    mkdir -p "$1"
    DIR=$(cd "$1" && pwd)
    if pid_alive "$(cat "$DIR/rabbit.pid" 2>/dev/null || true)"; then
        die "a node is already running in $DIR (stop it first)"
    fi
    export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
    if [ -z "$HOME" ] || [ ! -d "$HOME" ]; then
        die "HOME is not set to a folder (needed for .erlang.cookie)"
    fi
    mkdir -p "$DIR/mnesia" "$DIR/log"
    : >"$DIR/rabbitmq-env.conf" # replaces /etc/rabbitmq/rabbitmq-env.conf
    echo '[].' >"$DIR/enabled_plugins"
    echo '[].' >"$DIR/advanced.config"
    # Written per attempt by write_conf (the TLS port depends on the port block).
    : >"$DIR/rabbitmq.conf"

    for _ in 1 2 3; do
        rc=0
        start_attempt || rc=$?
        case $rc in
        0) break ;;
        2) [ -s "$DIR/identity" ] && break || continue ;;
        *) break ;;
        esac
    done
    if [ "$rc" != 0 ]; then
        epmd_cleanup
        [ "$rc" = 2 ] && die "ports kept being taken; gave up after 3 attempts"
        exit 1
    fi

    echo "${RABBITMQ_NODENAME%@*} $RABBITMQ_NODE_PORT" >"$DIR/identity"
    local url="amqp://guest:guest@127.0.0.1:${RABBITMQ_NODE_PORT}/%2f"
    echo "$url" >"$DIR/amqp_url"
    if tls_enabled; then
        echo "amqps://guest:guest@localhost:${NIANBAO_RABBITMQ_TLS_PORT}/%2f" >"$DIR/amqps_url"
    fi
    echo "$url"
}

cmd_stop() {
    [ $# -eq 1 ] || die "usage: $PROG stop DIR"
    [ -d "$1" ] || return 0
    DIR=$(cd "$1" && pwd)
    [ -f "$DIR/env" ] || return 0
    # shellcheck source=/dev/null
    . "$DIR/env"
    SBIN=$NIANBAO_RABBITMQ_SBIN
    export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
    local pid launcher
    pid=$(cat "$RABBITMQ_PID_FILE" 2>/dev/null || true)
    launcher=$(cat "$DIR/launcher.pid" 2>/dev/null || true)

    if pid_alive "$pid"; then
        # Graceful: stop the node and wait for that pid to exit.
        timeout 60 "$SBIN/rabbitmqctl" -q stop "$RABBITMQ_PID_FILE" >/dev/null 2>&1 || true
        if pid_alive "$pid"; then
            note "rabbitmqctl stop did not stop pid $pid; sending TERM"
            kill -TERM "$pid" 2>/dev/null || true
            wait_pid_gone "$pid" 20 || kill -KILL "$pid" 2>/dev/null || true
            wait_pid_gone "$pid" 5 || true
        fi
    fi
    # Whatever is left of the node's process group (the wrapper shell, erl_child_setup, or a node
    # that died before writing its pid file).
    if [ -n "$launcher" ] && kill -0 -- "-$launcher" 2>/dev/null; then
        kill -TERM -- "-$launcher" 2>/dev/null || true
        wait_group_gone "$launcher" 10 || kill -KILL -- "-$launcher" 2>/dev/null || true
    fi
    rm -f "$DIR/launcher.pid" "$RABBITMQ_PID_FILE" "$DIR/amqp_url" "$DIR/amqps_url"

    epmd_cleanup
}

# epmd: ours (marker) and unused -> kill it. `epmd -kill` itself refuses while nodes are
# registered; the lock keeps a parallel start from registering in between.
epmd_cleanup() {
    lock
    if [ -e "$EPMD_MARKER" ] && epmd_running && [ -z "$(epmd_names)" ]; then
        epmd -kill >/dev/null 2>&1 || true
        rm -f "$EPMD_MARKER" || true
    fi
    unlock
}

cmd_ctl() {
    [ $# -ge 1 ] || die "usage: $PROG ctl DIR ARGS..."
    local dir=$1
    shift
    [ -f "$dir/env" ] || die "no node was started in $dir"
    # shellcheck source=/dev/null
    . "$dir/env"
    export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
    exec "$NIANBAO_RABBITMQ_SBIN/rabbitmqctl" "$@"
}

cmd_join() {
    [ $# -eq 2 ] || die "usage: $PROG join DIR PEER_DIR"
    [ -f "$2/env" ] || die "no node was started in $2"
    local peer
    peer=$(. "$2/env" && echo "$RABBITMQ_NODENAME")
    # rabbitmqctl's warnings about the reset go to DIR/join.log, not to the caller's terminal.
    local step
    for step in stop_app reset "join_cluster $peer" start_app await_startup; do
        # shellcheck disable=SC2086 # the step's words are its arguments
        "$0" ctl "$1" $step >>"$1/join.log" 2>&1 || {
            tail -n 20 "$1/join.log" >&2
            die "rabbitmqctl $step failed on the node of $1"
        }
    done
}

cmd_install() {
    if dpkg -s rabbitmq-server >/dev/null 2>&1; then
        note "rabbitmq-server is already installed"
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "installing needs root (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends rabbitmq-server
}

case "${1:-}" in
start)
    shift
    cmd_start "$@"
    ;;
stop)
    shift
    cmd_stop "$@"
    ;;
ctl)
    shift
    cmd_ctl "$@"
    ;;
join)
    shift
    cmd_join "$@"
    ;;
install)
    shift
    cmd_install "$@"
    ;;
*)
    die "usage: $PROG install | start DIR | stop DIR | ctl DIR RABBITMQCTL-ARGS... | join DIR PEER_DIR"
    ;;
esac
