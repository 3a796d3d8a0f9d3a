#!/usr/bin/env bash
# A private, disposable PostgreSQL cluster as a plain background process, for tests and development.
#
#   postgres.sh install            install Debian's PostgreSQL server with apt-get if it is absent
#   postgres.sh start DIR          initdb + start a cluster under DIR; print its URL
#   postgres.sh stop DIR           stop it (idempotent: a stopped or never started DIR is fine)
#   postgres.sh psql DIR ARGS...   run psql against its `postgres` database as user `postgres`
#
# Why not the system cluster: no systemd in CI or dev containers, tests want clusters of their own,
# and nothing may outlive the test run. The cluster listens on 127.0.0.1 only (a free port; no Unix
# socket, so long DIR paths cannot hit the 107-byte socket path limit), trusts every local TCP
# connection (user `postgres`, no password) and runs with fsync off: it is for tests, its data is
# thrown away.
#
# PostgreSQL refuses to run as root. When run as root, this script runs initdb, the server and
# pg_ctl as the system user `nianbao-pg` (created if missing) and chowns DIR to it. If that user
# cannot reach DIR (a parent folder is not searchable by others, e.g. a checkout under /root), the
# data folder goes to a private folder under ${TMPDIR:-/tmp} instead, recorded in DIR/pgdata and
# removed by `stop`.
#
# After `start`, DIR holds:
#   database_url  postgres://postgres@127.0.0.1:PORT/postgres
#   env           PGHOST/PGPORT/PGUSER/PGDATABASE exports (bash syntax), for psql by hand
#   pgdata        the data folder's path;  postgres.log  the server log
set -euo pipefail

PROG=postgres.sh
PG_USER=nianbao-pg
LOCK_FILE="${TMPDIR:-/tmp}/nianbao-postgres.lock"

die() {
    echo "$PROG: error: $*" >&2
    exit 1
}

# Newest installed server's bin folder. Exit code 3 (tested by the Rust harness): not installed.
find_bin() {
    local initdb="" candidate
    for candidate in /usr/lib/postgresql/*/bin/initdb; do
        [ -x "$candidate" ] || continue
        # Highest major version wins (the glob sorts "9" after "15", so compare numbers).
        if [ -z "$initdb" ] || [ "$(major_of "$candidate")" -gt "$(major_of "$initdb")" ]; then
            initdb=$candidate
        fi
    done
    if [ -z "$initdb" ]; then
        echo "$PROG: error: PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); run deploy/scripts/postgres.sh install (as root)" >&2
        exit 3
    fi
    dirname "$initdb"
}

# 15 from /usr/lib/postgresql/15/bin/initdb.
major_of() {
    local v=${1#/usr/lib/postgresql/}
    v=${v%%/*}
    echo "${v%%.*}"
}

is_root() {
    [ "$(id -u)" = 0 ]
}

# Runs a command as the cluster's owner: nianbao-pg under root, else the current user.
as_pg() {
    if is_root; then
        runuser -u "$PG_USER" -- "$@"
    else
        "$@"
    fi
}

ensure_user() {
    is_root || return 0
    id -u "$PG_USER" >/dev/null 2>&1 && return 0
    # A parallel start may create it between the check and useradd: accept that.
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER" 2>/dev/null ||
        id -u "$PG_USER" >/dev/null 2>&1 ||
        die "could not create the system user $PG_USER"
}

# TCP ports something listens on (IPv4 and IPv6), one per line, from /proc.
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

# A free port in 10000..29999, below the kernel's ephemeral range (32768+).
pick_port() {
    local busy port
    busy=" $(listening_ports | tr '\n' ' ') "
    for _ in $(seq 1 200); do
        port=$((10000 + (RANDOM * 32768 + RANDOM) % 20000))
        case "$busy" in *" $port "*) continue ;; esac
        echo "$port"
        return 0
    done
    die "found no free port in 10000-29999"
}

cmd_start() {
    [ $# -eq 1 ] || die "usage: $PROG start DIR"
    local bin data port url
    bin=$(find_bin)
    mkdir -p "$1"
    DIR=$(cd "$1" && pwd)
    if [ -f "$DIR/pgdata" ] && [ -f "$(cat "$DIR/pgdata")/postmaster.pid" ]; then
        die "a cluster is already running in $DIR (stop it first)"
    fi
    ensure_user
    # Commands run as nianbao-pg must not start in a folder it cannot enter (initdb warns).
    cd /

    data="$DIR/data"
    if is_root; then
        chown "$PG_USER" "$DIR"
        if ! runuser -u "$PG_USER" -- test -w "$DIR"; then
            data=$(mktemp -d "${TMPDIR:-/tmp}/nianbao-pg.XXXXXX")
            chown "$PG_USER" "$data"
            data="$data/data"
        fi
    fi
    echo "$data" >"$DIR/pgdata"
    rm -rf "$data"
    as_pg mkdir -m 700 "$data"
    # Log next to the data, where the owner can write it; linked from DIR for people.
    local log
    log="$(dirname "$data")/postgres.log"
    [ "$log" = "$DIR/postgres.log" ] || ln -sfn "$log" "$DIR/postgres.log"

    # -N: no fsync during initdb; C locale: fast and the same on every machine.
    if ! as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C -N \
        >"$DIR/initdb.out" 2>&1; then
        cat "$DIR/initdb.out" >&2
        die "initdb failed (folder $DIR)"
    fi
    cat >>"$data/postgresql.conf" <<'EOF'

# deploy/scripts/postgres.sh: a disposable test cluster on loopback.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

    # The lock makes parallel starts pick different ports: held until the server listens.
    # Opened read-only and created world-readable: root and other users can share it.
    [ -e "$LOCK_FILE" ] || (umask 000 && : >>"$LOCK_FILE") || true
    exec 9<"$LOCK_FILE"
    flock -w 300 9 || die "could not take $LOCK_FILE within 300 s"
    port=$(pick_port)
    echo "port = $port" >>"$data/postgresql.conf"
    # 9>&-: the server must not inherit the lock. setsid: its own session, so a Ctrl-C aimed at
    # the caller does not reach it; only `stop` ends it.
    if ! as_pg setsid "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 start >"$DIR/pg_ctl.out" 2>&1 9>&-; then
        flock -u 9
        # pg_ctl -w gave up; make sure nothing is left running before reporting.
        as_pg "$bin/pg_ctl" -D "$data" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
        cat "$DIR/pg_ctl.out" >&2
        echo "----- last lines of $log -----" >&2
        tail -n 30 "$log" >&2 || true
        die "the server did not start (folder $DIR)"
    fi
    flock -u 9
    exec 9>&-

    if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 30; then
        cmd_stop "$DIR"
        die "pg_isready: the server on port $port does not accept connections"
    fi
    url="postgres://postgres@127.0.0.1:$port/postgres"
    echo "$url" >"$DIR/database_url"
    {
        echo "# Generated by deploy/scripts/postgres.sh: addresses the cluster under this folder."
        printf 'export %s=%q\n' NIANBAO_PG_BIN "$bin" PGHOST 127.0.0.1 PGPORT "$port" \
            PGUSER postgres PGDATABASE postgres
    } >"$DIR/env"
    echo "$url"
}

cmd_stop() {
    [ $# -eq 1 ] || die "usage: $PROG stop DIR"
    [ -d "$1" ] || return 0
    local dir data bin pid
    dir=$(cd "$1" && pwd)
    [ -f "$dir/pgdata" ] || return 0
    data=$(cat "$dir/pgdata")
    cd /
    if [ -f "$data/postmaster.pid" ]; then
        bin=$(find_bin)
        pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
        # fast: roll back open transactions and disconnect clients (tests may leave pools open).
        if ! as_pg "$bin/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1; then
            echo "$PROG: pg_ctl stop failed; sending SIGQUIT to postmaster $pid" >&2
            if [ -n "$pid" ]; then
                kill -QUIT "$pid" 2>/dev/null || true
                sleep 2
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
    fi
    rm -f "$dir/database_url"
    # A data folder outside DIR (see the header) is ours to remove; one inside DIR goes with DIR.
    case "$data" in
    "$dir"/*) ;;
    *) rm -rf "$(dirname "$data")" ;;
    esac
}

cmd_psql() {
    [ $# -ge 1 ] || die "usage: $PROG psql DIR ARGS..."
    local dir=$1
    shift
    [ -f "$dir/env" ] || die "no cluster was started in $dir"
    # shellcheck source=/dev/null
    . "$dir/env"
    exec "$NIANBAO_PG_BIN/psql" -X "$@"
}

cmd_install() {
    if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
        echo "$PROG: PostgreSQL is already installed" >&2
        return 0
    fi
    is_root || die "installing needs root (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # The server package's postinst may create and try to start a system cluster on 5432; that one
    # is not used here and (without systemd) usually is not started at all.
    apt-get install -y --no-install-recommends postgresql postgresql-client
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
psql)
    shift
    cmd_psql "$@"
    ;;
install)
    shift
    cmd_install "$@"
    ;;
*)
    die "usage: $PROG install | start DIR | stop DIR | psql DIR PSQL-ARGS..."
    ;;
esac
