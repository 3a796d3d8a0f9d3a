#!/usr/bin/env bash
# Makes the Secrets of a nianbao namespace (deploy/README.md "Kubernetes"), on an operator's
# workstation, with the nianbao CLI (the image's, or a local build) and kubectl:
#
#   deploy/k8s/make-secrets.sh --namespace nianbao-chujiang --out ~/nianbao-chujiang-secrets \
#       [--host ingest.gkb.chujiang.example]...   # public names of the edge, if any
#       [--console-host console.gkb.chujiang.example]...   # names the office console is reached by
#   kubectl apply -f ~/nianbao-chujiang-secrets/secrets.yaml
#
# What it keeps in --out (keep it safe: it is the deployment's key material; run it again with
# the same --out and it reuses everything already there, so the Secrets stay the same):
#   pki/services/   CA and the services' gRPC certificate (ca-key.pem signs further certificates)
#   pki/broker/     CA and the broker's certificate
#   pki/console/    CA and the office console's HTTPS certificate (names nianbao-console… and
#                   --console-host; the CA is what the edge verifies the console with)
#   credentials.toml and tokens/{extraction,crawler,operator}   (tokens are shown nowhere else)
#   broker-users/{ingest,extraction,validation,notification}     broker passwords
#   db/{ingest,validation,notification,crawler}                  database passwords
#   secrets.yaml    every Secret, for `kubectl apply -f`
# A province with its own PKI replaces pki/*/ (same file names) before the first run.
#
# Without a local nianbao binary: NIANBAO="docker run --rm -u $(id -u) -v OUT:OUT IMAGE nianbao"
# (the --out folder mounted at its own path).
set -euo pipefail

namespace=""; out=""; hosts=(); console_hosts=()
nianbao=${NIANBAO:-nianbao}
kubectl=${KUBECTL:-kubectl}
while [ $# -gt 0 ]; do
  case "$1" in
    --namespace) namespace=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --host) hosts+=("$2"); shift 2 ;;
    --console-host) console_hosts+=("$2"); shift 2 ;;
    --nianbao) nianbao=$2; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$namespace" ] || [ -z "$out" ]; then
  echo "usage: $0 --namespace NS --out DIR [--host PUBLIC_NAME]... [--console-host NAME]..." >&2
  exit 2
fi
umask 077
mkdir -p "$out"
out=$(cd "$out" && pwd)

names() {  # service: its names inside the cluster
  echo "$1" "$1.$namespace" "$1.$namespace.svc" "$1.$namespace.svc.cluster.local"
}

if [ ! -f "$out/pki/services/server.pem" ]; then
  args=()
  for s in nianbao-ingest nianbao-extraction nianbao-validation nianbao-notification; do
    for n in $(names "$s"); do args+=(--host "$n"); done
  done
  for h in "${hosts[@]}"; do args+=(--host "$h"); done
  $nianbao certs init --dir "$out/pki/services" "${args[@]}"
fi
if [ ! -f "$out/pki/broker/server.pem" ]; then
  args=()
  for n in $(names nianbao-broker); do args+=(--host "$n"); done
  args+=(--host "*.nianbao-broker-nodes.$namespace.svc" --host "*.nianbao-broker-nodes.$namespace.svc.cluster.local")
  $nianbao certs init --dir "$out/pki/broker" "${args[@]}"
fi
# The office console's HTTPS certificate: its own (not the services' gRPC key), for the names
# the edge or the clerks' browsers reach it by. The console needs no credential of its own: it
# calls ingest and notification with the logged-in clerk's token.
if [ ! -f "$out/pki/console/server.pem" ]; then
  args=()
  for n in $(names nianbao-console); do args+=(--host "$n"); done
  for h in "${console_hosts[@]}"; do args+=(--host "$h"); done
  $nianbao certs init --dir "$out/pki/console" "${args[@]}"
fi

mkdir -p "$out/tokens"
issue() {  # token-name args...
  local file=$out/tokens/$1; shift
  if [ ! -s "$file" ]; then
    $nianbao credentials issue --file "$out/credentials.toml" "$@" | tail -n 1 >"$file"
  fi
}
issue extraction --role extraction --name extraction
issue crawler --role crawler --name 专栏采集
issue operator --role operator --name 省运维

# One password per service (made if missing) — the definitions document itself is made again
# inside the cluster by the nianbao-broker-setup Job.
$nianbao broker definitions --vhost / --secrets "$out/broker-users" --out "$out/broker-definitions.json" >/dev/null

mkdir -p "$out/db"
for s in ingest validation notification crawler; do
  if [ ! -s "$out/db/$s" ]; then
    # 48 hexadecimal characters: safe inside a postgres:// URL as they are.
    od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$out/db/$s"
  fi
done

secret() { "$kubectl" create secret generic --namespace "$namespace" --dry-run=client -o yaml "$@"; echo "---"; }
broker_pw_extraction=$(cat "$out/broker-users/extraction")
{
  secret nianbao-tls --type=kubernetes.io/tls \
    --from-file=tls.crt="$out/pki/services/server.pem" \
    --from-file=tls.key="$out/pki/services/server-key.pem" \
    --from-file=ca.crt="$out/pki/services/ca.pem"
  secret nianbao-broker-tls --type=kubernetes.io/tls \
    --from-file=tls.crt="$out/pki/broker/server.pem" \
    --from-file=tls.key="$out/pki/broker/server-key.pem" \
    --from-file=ca.crt="$out/pki/broker/ca.pem"
  secret nianbao-console-tls --type=kubernetes.io/tls \
    --from-file=tls.crt="$out/pki/console/server.pem" \
    --from-file=tls.key="$out/pki/console/server-key.pem" \
    --from-file=ca.crt="$out/pki/console/ca.pem"
  secret nianbao-broker-ca --from-file=ca.crt="$out/pki/broker/ca.pem"
  secret nianbao-credentials --from-file=credentials.toml="$out/credentials.toml"
  secret nianbao-extraction-token --from-file=token="$out/tokens/extraction"
  secret nianbao-crawler-token --from-file=token="$out/tokens/crawler"
  secret nianbao-broker-users \
    --from-file=ingest="$out/broker-users/ingest" \
    --from-file=extraction="$out/broker-users/extraction" \
    --from-file=validation="$out/broker-users/validation" \
    --from-file=notification="$out/broker-users/notification"
  secret nianbao-extraction-keda \
    --from-literal=host="amqps://nianbao-extraction:$broker_pw_extraction@nianbao-broker.$namespace.svc:5671/%2f" \
    --from-literal=tls=enable \
    --from-file=ca="$out/pki/broker/ca.pem"
  for s in ingest validation notification crawler; do
    secret "nianbao-db-$s" --type=kubernetes.io/basic-auth \
      --from-literal=username="nianbao_$s" \
      --from-file=password="$out/db/$s"
  done
} >"$out/secrets.yaml"

echo "Secrets of namespace $namespace written to $out/secrets.yaml:"
grep '^  name:' "$out/secrets.yaml" | awk '{print "  " $2}'
echo "Apply them before the manifests: kubectl apply -f $out/secrets.yaml"
echo "The console's CA (for the edge's backend TLS): $out/pki/console/ca.pem; office clerks log in with"
echo "  credentials from: $nianbao credentials issue --file $out/credentials.toml --office ID --name NAME (then apply again)."
echo "The operator's CLI token is $out/tokens/operator (NIANBAO_TOKEN_FILE); the services' CA $out/pki/services/ca.pem (NIANBAO_CA)."
