#!/usr/bin/env bash
# finsentry's test command (`npm test`): build, typecheck, lint, start the local stack when it is
# not running, prepare the Python reference venv, then run the unit + integration suites and the
# fault suite. Exits non-zero when any step or any test fails.
#
# Environment:
#   FINSENTRY_KAFKA_BROKERS + FINSENTRY_REDIS_URL   use existing servers; start no local stack
#   FINSENTRY_SCHEMA_REGISTRY_URL                   an existing Confluent-compatible registry (its
#                                                   Confluent API base URL); else the local one (8081)
#   CI                                              when set, a stack started here is stopped at exit
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { printf '\nfinsentry test: %s\n' "$*"; }
warn() { printf 'finsentry test: WARNING: %s\n' "$*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

export KAFKAJS_NO_PARTITIONER_WARNING=1

step "building (npm run build)"
npm run --silent build

step "type-checking src and test (tsc --noEmit)"
npx tsc --noEmit -p tsconfig.json

step "linting (npm run lint: eslint, prettier --check)"
npm run --silent lint

step "checking the shipped Prometheus rules and Alertmanager configs (promtool check rules, amtool check-config)"
if command -v promtool >/dev/null && command -v amtool >/dev/null; then
  promtool check rules k8s/prometheus/rules.yml
  amtool check-config scripts/stack/alertmanager.yml k8s/base/alertmanager/alertmanager.yml
else
  warn "promtool/amtool missing (Debian packages prometheus, prometheus-alertmanager; scripts/stack/stack.sh up --prometheus installs them); test/unit/alerts/prometheus-rules.test.ts and test/unit/ops-config.test.ts will fail"
fi

step "checking a kustomize renderer for the k8s tests (kubectl kustomize, else scripts/tools/ensure-kustomize.sh)"
if ! command -v kubectl >/dev/null; then
  bash scripts/tools/ensure-kustomize.sh >/dev/null ||
    warn "neither kubectl nor kustomize (nor Go to install it); test/unit/k8s-render.test.ts and ops-config.test.ts will fail"
fi

step "schema evolution: schemas/*.avsc BACKWARD and FORWARD compatible with schemas/released/ (npm run schemas:check)"
npm run --silent schemas:check

# ------------------------------------------------------------------------------------- stack
stack_started_here=0
if [[ -n "${FINSENTRY_KAFKA_BROKERS:-}" && -n "${FINSENTRY_REDIS_URL:-}" ]]; then
  step "using existing servers: Kafka $FINSENTRY_KAFKA_BROKERS, Redis $FINSENTRY_REDIS_URL (no local stack)"
  if [[ -z "${FINSENTRY_SCHEMA_REGISTRY_URL:-}" ]]; then
    step "starting the local schema registry (scripts/stack/stack.sh up registry)"
    bash scripts/stack/stack.sh up registry
  fi
else
  if port_open 9092 && port_open 6379 && port_open 7001 && port_open 9090 && port_open 8081; then
    step "local stack is running; checking it (scripts/stack/stack.sh up --redis-cluster --prometheus --registry)"
  else
    step "starting the local stack: Kafka, Redis, Redis Cluster, Prometheus, Alertmanager, schema registry (scripts/stack/stack.sh up --redis-cluster --prometheus --registry)"
    port_open 9092 || stack_started_here=1
  fi
  bash scripts/stack/stack.sh up --redis-cluster --prometheus --registry
  if [[ -n "${CI:-}" && $stack_started_here -eq 1 ]]; then
    # CI machines are handed on; leave no servers behind that this run started.
    trap 'bash "$ROOT/scripts/stack/stack.sh" down >/dev/null 2>&1 || true' EXIT
  fi
fi

step "schema evolution through the registry's own compatibility API (npm run schemas:check -- --registry)"
npm run --silent schemas:check -- --registry "${FINSENTRY_SCHEMA_REGISTRY_URL:-http://127.0.0.1:8081/apis/ccompat/v7}"

# The fault and security suites start private brokers (and the exactly-once test Kafka's Java
# consumer) from the cached Kafka jars, also when the shared servers were not started here.
step "caching the Kafka jars for the private test brokers (scripts/stack/stack.sh fetch)"
bash scripts/stack/stack.sh fetch

# The report tests render the HTML report in headless Chromium (Debian package, installed when missing).
step "checking headless Chromium for the report tests (scripts/stack/ensure-chromium.sh)"
bash scripts/stack/ensure-chromium.sh

# ----------------------------------------------------------------------------- Python venv
shopt -s nullglob
requirements=(tools/python/requirements*.txt)
shopt -u nullglob
if ((${#requirements[@]} > 0)); then
  if ! command -v python3 >/dev/null; then
    warn "python3 not found; skipping the Python reference venv (.venv-py); tests that need it will fail"
  else
    stamp=".venv-py/.finsentry-requirements.sha256"
    wanted="$(cat "${requirements[@]}" | sha256sum | cut -d' ' -f1)"
    if [[ ! -x .venv-py/bin/python || ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
      step "preparing the Python reference venv .venv-py (${requirements[*]})"
      [[ -x .venv-py/bin/python ]] || python3 -m venv .venv-py
      .venv-py/bin/python -m pip install -q --disable-pip-version-check "${requirements[@]/#/-r}"
      echo "$wanted" >"$stamp"
    else
      step "Python reference venv .venv-py is up to date"
    fi
    export FINSENTRY_PYTHON="$ROOT/.venv-py/bin/python"
  fi
fi

# ----------------------------------------------------------------------------------- tests
mkdir -p test-results
rm -f test-results/*-failures.txt
status=0

# The unit project (pure logic, no servers) runs beside the fault suite: the fault tests wait on
# brokers and Redis restarts and use about half of the two cores (sampled 2026-12-07), so the unit
# files fill the idle half instead of adding 5-6 minutes of their own. Its output is printed when it
# ends, so the two suites' lines do not interleave. The integration project runs alone after them:
# its traffic scenarios already keep both cores busy.
run_project() { # name; the rest goes to vitest
  local name="$1"
  shift
  FINSENTRY_FAILURE_SUMMARY="test-results/$name-failures.txt" npx vitest run --project "$name" \
    --reporter=default --reporter=json --outputFile.json="test-results/$name.json" \
    --reporter=./test/helpers/failure-summary-reporter.ts "$@"
}
reports=(test-results/unit.json test-results/integration.json)
has_faults=0
if compgen -G 'test/faults/*.test.ts' >/dev/null || compgen -G 'test/faults/**/*.test.ts' >/dev/null; then
  has_faults=1
  reports+=(test-results/faults.json)
fi

if ((has_faults)); then
  step "running unit tests (vitest --project unit, output below when done) beside the fault tests (vitest --project faults)"
  run_project unit >test-results/unit.log 2>&1 &
  unit_pid=$!
  run_project faults || status=1
  wait "$unit_pid" || status=1
  step "unit tests (vitest --project unit), run beside the fault tests"
  cat test-results/unit.log
else
  step "running unit tests (vitest --project unit)"
  run_project unit || status=1
fi

step "running integration tests (vitest --project integration)"
run_project integration || status=1

# One plain closing line over every suite, for readers that look for "N passed, N failed".
node -e '
  const fs = require("node:fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const file of process.argv.slice(1)) {
    if (!fs.existsSync(file)) { failed += 1; continue; }
    const report = JSON.parse(fs.readFileSync(file, "utf8"));
    passed += report.numPassedTests;
    failed += report.numFailedTests + (report.success === false && report.numFailedTests === 0 ? 1 : 0);
    skipped += report.numPendingTests + report.numTodoTests;
  }
  console.log(`\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
' "${reports[@]}" || true

# Every failure of every suite again, last: a failed beforeAll shows only as skipped tests above.
for summary in test-results/*-failures.txt; do
  if [[ -s "$summary" ]]; then printf '\nfinsentry test: failures (%s)\n%s\n' "$summary" "$(cat "$summary")"; fi
done

exit "$status"
