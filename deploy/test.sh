#!/usr/bin/env bash
# The test command: installs what the cross-service tests need (Debian's rabbitmq-server and
# postgresql, if absent; needs root as on CI and the dev machines), then runs every test of the
# workspace. The tests start their own private brokers and database clusters under target/.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/scripts/rabbitmq.sh install
bash deploy/scripts/postgres.sh install
# The office console's browser test (tests/tests/console.rs): headless chromium over WebDriver, and a
# CJK font so that its screenshots show the Chinese pages.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk"; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver fonts-wqy-microhei
fi

log=$(mktemp)
set +e
cargo test --workspace "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over all test binaries (cargo prints one "test result" line per binary).
passed=$(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
rm -f "$log"
echo "tests: $passed passed, $failed failed"
exit "$status"
