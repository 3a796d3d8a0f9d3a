#!/usr/bin/env bash
# Rehearses the pilot of compose.yaml without Docker, on this machine, as root: the same scripts,
# configuration files and commands as the containers, run as processes in a private network and
# mount namespace (so the compose network's names and ports, rabbitmq:5671, postgres:5432,
# ingest:50051, … are real and collide with nothing):
#   init.sh  ->  RabbitMQ (Debian's, with the conf.d init.sh wrote)  ->  PostgreSQL (Debian's, TLS,
#   postgres-init.sh)  ->  broker-users (curl POST of the definitions)  ->  broker-setup
#   ->  the four services through service.sh  ->  their healthchecks  ->  a sample report
#   submitted with the CLI until notified  ->  the office console through service.sh, its
#   healthcheck, its login page over HTTPS with the pilot's CA, and an office clerk's login and
#   overview page (which the console fills from ingest and notification).
# What it cannot show: the images themselves (no Docker engine here).
#
#   deploy/compose/rehearse.sh [BIN_DIR]      # BIN_DIR: the nianbao binaries (default target/debug)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
bin=$(cd "${1:-${CARGO_TARGET_DIR:-target}/debug}" && pwd)
for b in nianbao nianbao-ingest nianbao-extraction nianbao-validation nianbao-notification nianbao-console; do
  [ -x "$bin/$b" ] || { echo "rehearse.sh: $bin/$b missing (cargo build -p nianbao-cli -p nianbao-console -p nianbao-ingest …)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "rehearse.sh: run as root (namespaces, file owners)" >&2; exit 2; }

if [ "${NIANBAO_REHEARSAL_INSIDE:-}" != 1 ]; then
  bash deploy/scripts/rabbitmq.sh install >/dev/null
  bash deploy/scripts/postgres.sh install >/dev/null
  # Mount points for the namespace (empty folders; removed again if this run made them).
  made=()
  for d in /secrets /etc/nianbao /var/lib/nianbao; do
    if [ ! -e "$d" ]; then mkdir -p "$d"; made+=("$d"); fi
  done
  set +e
  NIANBAO_REHEARSAL_INSIDE=1 unshare --mount --net --propagation private -- "$0" "$bin"
  status=$?
  set -e
  for d in "${made[@]}"; do rmdir "$d" 2>/dev/null || true; done
  exit $status
fi

# ---- inside the namespaces ----------------------------------------------------------------
ip link set lo up
# Every process of the rehearsal shares this one network namespace (a real deployment gives each
# its own): keep the kernel's choice of client ports away from the ports the services listen on
# (50051-50054, 9451-9454, 8443, 5432, 5671, ...), so that an outgoing connection cannot hold a
# port a service is about to bind.
echo "61000 65535" >/proc/sys/net/ipv4/ip_local_port_range
work=$(mktemp -d /tmp/nianbao-rehearsal.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # PostgreSQL: fast shutdown (SIGTERM waits for sessions), then its end is awaited by pid.
  if [ -n "${pg_pid:-}" ]; then
    kill -INT "$pg_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pg_pid" 2>/dev/null || break; sleep 0.2; done
  fi
  # epmd of this network namespace (started below), by its pid.
  [ -f "$work/epmd.pid" ] && kill "$(cat "$work/epmd.pid")" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
mount -t tmpfs tmpfs /secrets
mount -t tmpfs tmpfs /var/lib/nianbao
mount -t tmpfs tmpfs /etc/nianbao
mkdir -p /etc/nianbao/config
mount --bind "$root/deploy/compose/config" /etc/nianbao/config
touch /etc/nianbao/directory.toml
mount --bind "$root/deploy/directory/chujiang.toml" /etc/nianbao/directory.toml
cp /etc/hosts "$work/hosts"
echo "127.0.0.1 rabbitmq postgres ingest extraction validation notification console" >>"$work/hosts"
mount --bind "$work/hosts" /etc/hosts
mkdir -p /var/lib/nianbao && chown 10001:10001 /var/lib/nianbao
export PATH="$bin:$PATH"

step() { echo "== $*"; }

step "init (twice: the second run must change nothing but the definitions' salted hashes)"
NIANBAO_PUBLIC_HOSTS="nianbao.gkb.example" sh deploy/compose/init.sh
(cd /secrets && find . -type f ! -name broker-definitions.json -exec sha256sum {} + | sort >"$work/first")
sh deploy/compose/init.sh >/dev/null
(cd /secrets && find . -type f ! -name broker-definitions.json -exec sha256sum {} + | sort >"$work/second")
cmp -s "$work/first" "$work/second" || { echo "init.sh changed the secrets on its second run"; diff "$work/first" "$work/second"; exit 1; }
[ "$(stat -c %u /secrets/pki/server-key.pem)" = 10001 ] && [ "$(stat -c %u /secrets/rabbitmq/server-key.pem)" = 999 ] \
  && [ "$(stat -c %a /secrets/postgres/server-key.pem)" = 600 ] || { echo "init.sh: wrong owners or modes"; exit 1; }

step "rabbitmq (conf.d from init.sh)"
sbin=$(dirname "$(dpkg -L rabbitmq-server | grep -m1 'rabbitmq_server-.*/sbin/rabbitmqctl$')")
export HOME=$work/home RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_CONFIG_FILES=/secrets/rabbitmq/conf.d \
  RABBITMQ_MNESIA_BASE=$work/mnesia RABBITMQ_LOG_BASE=$work/rabbitmq-log RABBITMQ_PID_FILE=$work/rabbit.pid \
  RABBITMQ_ENABLED_PLUGINS_FILE=$work/enabled_plugins RABBITMQ_CONF_ENV_FILE=$work/rabbitmq-env.conf \
  RABBITMQ_ADVANCED_CONFIG_FILE=$work/advanced.config ERL_CRASH_DUMP=$work/erl_crash.dump
mkdir -p "$HOME" && echo '[rabbitmq_management].' >"$work/enabled_plugins" && : >"$work/rabbitmq-env.conf"

epmd -daemon && sleep 0.2 && pgrep -n -x epmd >"$work/epmd.pid"
setsid "$sbin/rabbitmq-server" >"$work/rabbitmq.out" 2>&1 </dev/null &
pids+=($!)
for _ in $(seq 1 150); do "$sbin/rabbitmq-diagnostics" -q ping >/dev/null 2>&1 && break; sleep 0.4; done
"$sbin/rabbitmqctl" -q await_startup --timeout 60 || { tail -30 "$work/rabbitmq.out"; exit 1; }
"$sbin/rabbitmq-diagnostics" -q check_port_connectivity
"$sbin/rabbitmq-diagnostics" -q listeners

step "postgres (TLS, postgres-init.sh)"
# The postgres image runs as uid 999; here the system user of deploy/scripts/postgres.sh plays it
# (initdb needs a user name), and takes over the files init.sh gave to 999.
id -u nianbao-pg >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin nianbao-pg
pg_uid=$(id -u nianbao-pg); pg_gid=$(id -g nianbao-pg)
chown -R "$pg_uid:$pg_gid" /secrets/postgres
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pgdata=$work/pgdata; mkdir -p "$pgdata" && chown "$pg_uid:$pg_gid" "$pgdata"
setpriv --reuid "$pg_uid" --regid "$pg_gid" --clear-groups -- "$pgbin/initdb" -D "$pgdata" -U postgres --pwfile=/secrets/postgres/postgres >/dev/null
setpriv --reuid "$pg_uid" --regid "$pg_gid" --clear-groups -- "$pgbin/postgres" -D "$pgdata" -k "$pgdata" -c listen_addresses=127.0.0.1 -c ssl=on \
  -c ssl_cert_file=/secrets/postgres/server.pem -c ssl_key_file=/secrets/postgres/server-key.pem >"$work/postgres.out" 2>&1 &
pg_pid=$!
for _ in $(seq 1 100); do "$pgbin/pg_isready" -q -h 127.0.0.1 -U postgres && break; sleep 0.2; done
PGHOST=127.0.0.1 PGPASSWORD=$(cat /secrets/postgres/postgres) POSTGRES_USER=postgres sh deploy/compose/postgres-init.sh

step "broker-users (POST /api/definitions) and broker-setup"
curl --fail-with-body --silent --show-error --config /secrets/curl/admin.curlrc --cacert /secrets/pki/ca.pem \
  --header "content-type: application/json" --data-binary @/secrets/broker-definitions.json https://rabbitmq:15671/api/definitions
echo "users: $("$sbin/rabbitmqctl" -q list_users | awk 'NR>1 {print $1}' | sort | paste -sd' ')"
setpriv --reuid 10001 --regid 10001 --clear-groups -- sh -c \
  'exec nianbao broker setup --url "amqps://admin:$(cat /secrets/broker-admin)@rabbitmq:5671/%2f" --ca-file /secrets/pki/ca.pem'

# The services are stopped first at the end (cleanup), the database after them.
step "the services (service.sh, as uid 10001)"
for svc in ingest extraction validation notification; do
  setpriv --reuid 10001 --regid 10001 --clear-groups -- env NIANBAO_CONFIG="/etc/nianbao/config/$svc.toml" \
    PATH="$PATH" sh deploy/compose/service.sh "$svc" >"$work/$svc.log" 2>&1 &
  pids+=($!)
done
port() { case $1 in ingest) echo 9451 ;; extraction) echo 9452 ;; validation) echo 9453 ;; notification) echo 9454 ;; esac; }
for svc in ingest extraction validation notification; do
  ok=0
  for _ in $(seq 1 150); do
    if sh deploy/compose/service.sh --ready "$(port "$svc")" 2>/dev/null; then ok=1; break; fi
    sleep 0.4
  done
  [ "$ok" = 1 ] || {
    echo "$svc not ready:"
    # The end of its log without backtrace frames (RUST_BACKTRACE may be set): the error or
    # panic message comes before them.
    grep -v -E '^ +([0-9]+: | *at )' "$work/$svc.log" | tail -20
    exit 1
  }
  echo "$svc: healthy (GET /readyz = 200)"
done

step "a sample report through the pipeline, with the pilot's CLI settings"
export NIANBAO_INGEST_URL=https://ingest:50051 NIANBAO_NOTIFICATION_URL=https://notification:50054 \
  NIANBAO_CA=/secrets/pki/ca.pem NIANBAO_TOKEN_FILE=/secrets/tokens/operator
sample=$(ls deploy/samples/*.txt | head -1)
id=$(nianbao submit "$sample" | awk '{print $1}')
nianbao wait "$id" --until notified --timeout-secs 120 >/dev/null
nianbao status "$id" | head -5
echo "queues by type: $("$sbin/rabbitmqctl" -q list_queues name type | awk 'NR>1 {n[$2]++} END {for (t in n) printf "%s %d  ", t, n[t]}')"

step "the office console (service.sh, as uid 10001), its healthcheck, login page and an office clerk's overview"
setpriv --reuid 10001 --regid 10001 --clear-groups -- env NIANBAO_CONFIG=/etc/nianbao/config/console.toml \
  PATH="$PATH" sh deploy/compose/service.sh console >"$work/console.log" 2>&1 &
pids+=($!)
ok=0
for _ in $(seq 1 100); do
  if sh deploy/compose/service.sh --listening 8443 2>/dev/null; then ok=1; break; fi
  sleep 0.3
done
[ "$ok" = 1 ] || { echo "console not listening:"; grep -v -E '^ +([0-9]+: | *at )' "$work/console.log" | tail -20; exit 1; }
echo "console: healthy (8443 accepts)"
code=$(curl --silent --show-error --cacert /secrets/pki/ca.pem -o "$work/login.html" -w '%{http_code}' https://console:8443/login)
[ "$code" = 200 ] && grep -q 'action="/login"' "$work/login.html" || { echo "console: GET /login = $code"; tail -20 "$work/console.log"; exit 1; }
echo "console: GET https://console:8443/login = 200 (certificate verified with the pilot's CA)"
# A clerk of 临江区 (390202), as the operator would issue one with the cli service.
setpriv --reuid 10001 --regid 10001 --clear-groups -- nianbao credentials issue --file /secrets/credentials.toml \
  --directory /etc/nianbao/directory.toml --office 390202 --name 王科长 | tail -n 1 >"$work/office-token"
code=$(curl --silent --show-error --cacert /secrets/pki/ca.pem --cookie-jar "$work/cookies" --cookie "$work/cookies" \
  --location --data-urlencode "token=$(cat "$work/office-token")" -o "$work/overview.html" -w '%{http_code} %{url_effective}' \
  https://console:8443/login)
[ "$code" = "200 https://console:8443/" ] && grep -q '总览' "$work/overview.html" && ! grep -q 'class="err"' "$work/overview.html" \
  || { echo "console: login and overview = $code"; grep -o 'class="err">[^<]*' "$work/overview.html" | head -3; tail -20 "$work/console.log"; exit 1; }
echo "console: an office clerk logged in, overview = 200 (from ingest and notification)"
echo "rehearsal: passed"
