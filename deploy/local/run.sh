#!/usr/bin/env bash
# The main job on one machine: a private RabbitMQ, the four services, the bundled sample reports
# submitted through ingest, then each report's findings and the alerts each office received.
# Everything it starts lives under target/local/ and stops on Ctrl-C (or at the end with --once).
#
#   deploy/local/run.sh            # stays up after printing; Ctrl-C stops all
#   deploy/local/run.sh --once     # stops everything after printing (CI, scripts)
#   deploy/local/run.sh --once FILE...   # your own reports instead of deploy/samples/*.txt
#   deploy/local/run.sh --release --workers 3 --bench 5000
#                                  # the pipeline benchmark: N generated reports, reports/s, latency
#                                  # (the load generator is crates/cli/examples/bench_pipeline.rs)
#
# Its output may go to a file (`deploy/local/run.sh --once > run.log 2>&1`): every line is written
# once, by this script or by the commands it runs, never copied to stderr as well.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

once=0; workers=1; profile=debug; bench=0
while [ $# -gt 0 ]; do
  case "$1" in
    --once) once=1; shift ;;
    --workers) workers=$2; shift 2 ;;
    --release) profile=release; shift ;;
    --bench) bench=$2; once=1; shift 2 ;;
    *) break ;;
  esac
done
files=("$@")
if [ ${#files[@]} -eq 0 ]; then files=(deploy/samples/*.txt); fi

target=${CARGO_TARGET_DIR:-$root/target}
state=$target/local
rm -rf "$state"
mkdir -p "$state"

pids=()
cleanup() {
  trap - EXIT INT TERM
  # Stop everything even if the terminal (or a pipe reading our output) is already gone.
  trap '' PIPE
  { echo; echo "== stopping"; } 2>/dev/null || true
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  bash deploy/scripts/rabbitmq.sh stop "$state/rabbitmq" >/dev/null 2>&1 || true
  { echo "stopped; logs are in $state"; } 2>/dev/null || true
}
trap cleanup EXIT INT TERM

echo "== building the services (first run: a few minutes)"
cargo_profile=()
if [ "$profile" = release ]; then cargo_profile=(--release); fi
cargo build -q "${cargo_profile[@]}" -p nianbao-ingest -p nianbao-extraction -p nianbao-validation -p nianbao-notification -p nianbao-cli
bin=$target/$profile

# What a province's operator does once (deploy/README.md "Identity and TLS"), for this machine: a
# local CA with a certificate for 127.0.0.1, and the credentials the services accept — an
# operator's (the CLI below), the extraction workers' (FetchReport), and one per sample agency.
echo "== certificates and credentials (under $state)"
pki=$state/pki
creds=$state/credentials.toml
"$bin/nianbao" certs init --dir "$pki" >/dev/null
issue() {  # file args... : writes the token of a new credential to file
  local out=$1; shift
  "$bin/nianbao" credentials issue --file "$creds" "$@" | tail -n 1 >"$out"
  chmod 600 "$out"
}
mkdir -p "$state/tokens"
issue "$state/tokens/operator" --role operator --name "本机运维"
issue "$state/tokens/extraction" --role extraction --name extraction
export NIANBAO_TLS__CERT=$pki/server.pem NIANBAO_TLS__KEY=$pki/server-key.pem
export NIANBAO_AUTH__CREDENTIALS=$creds

# The broker listens with TLS too (the same local CA), and each service connects as its own
# user, allowed only its own queues and events: the administrator (guest, loopback only) declares
# the topology once, then imports one user per service (deploy/README.md "Broker users").
echo "== RabbitMQ"
bash deploy/scripts/rabbitmq.sh install
mkdir -p "$state/rabbitmq/tls"
cp "$pki/ca.pem" "$pki/server.pem" "$pki/server-key.pem" "$state/rabbitmq/tls/"
amqp=$(bash deploy/scripts/rabbitmq.sh start "$state/rabbitmq")
amqps=$(cat "$state/rabbitmq/amqps_url")
echo "broker at $amqp and ${amqps/guest:guest@/}"
"$bin/nianbao" broker setup --url "$amqp"
"$bin/nianbao" broker definitions --secrets "$state/broker-secrets" --out "$state/broker-definitions.json"
bash deploy/scripts/rabbitmq.sh ctl "$state/rabbitmq" -q import_definitions "$state/broker-definitions.json" >/dev/null
broker_hostport=${amqps#*@}; broker_hostport=${broker_hostport%%/*}
bus_env() {  # service: the env of a service that connects as its own broker user
  local pw; pw=$(cat "$state/broker-secrets/$1")
  echo "NIANBAO_BUS__URL=amqps://nianbao-$1:$pw@$broker_hostport/%2f"
  echo "NIANBAO_BUS__CA_FILE=$pki/ca.pem"
  echo "NIANBAO_BUS__DECLARE_TOPOLOGY=false"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
p_ingest=$(free_port); p_validate=$(free_port); p_notify=$(free_port)

start() {  # service label port [extra env...]
  local name=$1 label=$2 port=$3; shift 3
  mkdir -p "$state/$label"
  local bus; mapfile -t bus < <(bus_env "$name")
  env NIANBAO_LISTEN="127.0.0.1:$port" NIANBAO_DATA_DIR="$state/$label" "${bus[@]}" "$@" \
    "$bin/nianbao-$name" >"$state/$label.log" 2>&1 &
  pids+=($!)
}
echo "== services"
start ingest ingest "$p_ingest" NIANBAO_DIRECTORY="$root/deploy/directory/chujiang.toml"
extract_ports=()
for i in $(seq 1 "$workers"); do
  port=$(free_port); extract_ports+=("$port")
  start extraction "extraction-$i" "$port" NIANBAO_INGEST_URL="https://127.0.0.1:$p_ingest" \
    NIANBAO_INGEST_CLIENT__CA="$pki/ca.pem" NIANBAO_INGEST_CLIENT__TOKEN_FILE="$state/tokens/extraction"
done
start validation validation "$p_validate" NIANBAO_DIRECTORY="$root/deploy/directory/chujiang.toml"
start notification notification "$p_notify" NIANBAO_DIRECTORY="$root/deploy/directory/chujiang.toml"
export NIANBAO_INGEST_URL="https://127.0.0.1:$p_ingest"
export NIANBAO_NOTIFICATION_URL="https://127.0.0.1:$p_notify"
export NIANBAO_CA=$pki/ca.pem NIANBAO_TOKEN_FILE=$state/tokens/operator
# The same settings for a new shell: `source target/local/env.sh`, then any nianbao command.
cat >"$state/env.sh" <<ENV
export NIANBAO_INGEST_URL=$NIANBAO_INGEST_URL
export NIANBAO_NOTIFICATION_URL=$NIANBAO_NOTIFICATION_URL
export NIANBAO_CA=$NIANBAO_CA
export NIANBAO_TOKEN_FILE=$NIANBAO_TOKEN_FILE
export NIANBAO_CREDENTIALS=$creds
export NIANBAO_DIRECTORY=$root/deploy/directory/chujiang.toml
export PATH=$bin:\$PATH
ENV
for port in "$p_ingest" "${extract_ports[@]}" "$p_validate" "$p_notify"; do
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.2
  done
done
echo "ingest :$p_ingest  extraction :${extract_ports[*]}  validation :$p_validate  notification :$p_notify"

if [ "$bench" -gt 0 ]; then
  echo "== pipeline benchmark: $bench generated reports, $workers extraction worker(s), $profile build"
  # CPU seconds each process spends during the run: where the time goes (utime+stime, in ticks).
  cpu_of() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
  broker_pids=$(cat "$state/rabbitmq/rabbit.pid" 2>/dev/null || true)
  names=(ingest); for i in $(seq 1 "$workers"); do names+=("extraction-$i"); done; names+=(validation notification)
  all_pids=("${pids[@]}" $broker_pids)
  before=(); for p in "${all_pids[@]}"; do before+=("$(cpu_of "$p")"); done
  cargo build -q "${cargo_profile[@]}" -p nianbao-cli --example bench_pipeline
  "$bin/examples/bench_pipeline" --count "$bench" --amqp "$amqp"
  hz=$(getconf CLK_TCK)
  echo "CPU seconds during the run:"
  total=0
  for i in "${!all_pids[@]}"; do
    name=${names[$i]:-rabbitmq}
    spent=$(( $(cpu_of "${all_pids[$i]}") - before[i] ))
    total=$((total + spent))
    awk -v n="$name" -v t="$spent" -v hz="$hz" 'BEGIN { printf "  %-14s %6.1f\n", n, t / hz }'
  done
  # What one report costs the machine, against what the target of 1,000 reports/s allows.
  awk -v t="$total" -v hz="$hz" -v n="$bench" -v cores="$(nproc)" \
    'BEGIN { printf "  %-14s %6.1f  (%.2f ms of CPU per report; 1,000 reports/s on %d cores allow %.2f)\n", "total", t / hz, 1000 * t / hz / n, cores, cores }'
  exit 0
fi

echo "== submitting ${#files[@]} reports, each with its agency's own credential"
ids=""
for f in "${files[@]}"; do
  # deploy/samples names its files NNNN_layout_AGENCY_YEAR.txt; other files go in as the operator's
  # (their agency is then what the document prints, unverified).
  agency=$(basename "$f" | awk -F_ 'NF >= 4 { print $3 }')
  if [ -n "$agency" ]; then
    token=$state/tokens/agency-$(printf '%s' "$agency" | sha256sum | cut -c1-12)
    [ -f "$token" ] || issue "$token" --agency "$agency"
    line=$(NIANBAO_TOKEN_FILE=$token "$bin/nianbao" submit "$f")
  else
    line=$("$bin/nianbao" submit "$f")
  fi
  echo "$line"
  ids="$ids ${line%% *}"
done
"$bin/nianbao" wait $ids --until notified --timeout-secs 180 >/dev/null

echo
echo "== findings per report"
"$bin/nianbao" status $ids
echo "== alerts received by the offices"
"$bin/nianbao" alerts

# The office console (crates/console): web pages for the 政务公开办, logged in with an office
# credential; here for 临江区 (390202), whose sample report has a t3-balance error.
echo "== office console"
cargo build -q "${cargo_profile[@]}" -p nianbao-console
p_console=$(free_port)
issue "$state/tokens/console-office" --office 390202 --name "王科长"
mkdir -p "$state/console"
env NIANBAO_LISTEN="127.0.0.1:$p_console" NIANBAO_DIRECTORY="$root/deploy/directory/chujiang.toml" \
  NIANBAO_INGEST_URL="$NIANBAO_INGEST_URL" NIANBAO_NOTIFICATION_URL="$NIANBAO_NOTIFICATION_URL" \
  NIANBAO_CLIENT__CA="$pki/ca.pem" NIANBAO_YEAR=2024 "$bin/nianbao-console" >"$state/console.log" 2>&1 &
pids+=($!)
echo "console: https://127.0.0.1:$p_console/  (certificate of the local CA $pki/ca.pem)"
echo "login as 临江区人民政府办公室 王科长 with the token: $(cat "$state/tokens/console-office")"

if [ "$once" -eq 1 ]; then exit 0; fi
echo
echo "Services are up (NIANBAO_INGEST_URL=$NIANBAO_INGEST_URL, NIANBAO_NOTIFICATION_URL=$NIANBAO_NOTIFICATION_URL)."
# The services listen on free ports and speak TLS with credentials: the CLI's defaults
# (http://127.0.0.1:50051 and :50054, no credential) do not reach them; env.sh sets what does.
echo "Try, in another shell:  source $state/env.sh && nianbao reports && nianbao alerts"
echo "grpcurl: grpcurl -cacert $pki/ca.pem -H \"authorization: Bearer \$(cat $state/tokens/operator)\" 127.0.0.1:$p_ingest list"
echo "Credentials: $bin/nianbao credentials list --file $creds"
echo "Ctrl-C stops everything."
wait "${pids[@]}"
