#!/usr/bin/env bash
# The fault test at volume (#23 point 5): a 3-node RabbitMQ cluster, PostgreSQL, 2 ingest,
# 3 extraction, 2 validation and 2 notification processes on loopback; REPORTS generated reports
# (default 1000; the issue's figure is 10000); one instance of each service SIGKILLed and
# restarted and the broker node leading the work queues restarted while they flow. Passes when
# every report is notified, none twice alerted, with the findings `nianbao check` gives offline.
#
#   deploy/faults.sh [REPORTS]
#
# Installs RabbitMQ and PostgreSQL like deploy/test.sh (root, apt-get) if they are absent.
set -euo pipefail
cd "$(dirname "$0")/.."
reports=${1:-1000}
bash deploy/scripts/rabbitmq.sh install
bash deploy/scripts/postgres.sh install
cargo build -q -p nianbao-ingest -p nianbao-extraction -p nianbao-validation -p nianbao-notification
NIANBAO_FAULT_REPORTS=$reports cargo test -q -p nianbao-e2e --test faults -- --ignored --nocapture
