#!/usr/bin/env bash
# npm run bench [-- OPTIONS]: builds dist/ when any source is newer, makes sure the local stack
# (Kafka 127.0.0.1:9092, Redis 127.0.0.1:6379) is up, then runs `finsentry bench OPTIONS`.
# Options: node dist/cli/main.js bench --help; method and results: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -f dist/cli/main.js ]] || [[ -n "$(find src -name '*.ts' -newer dist/cli/main.js -print -quit)" ]] || [[ package.json -nt dist/cli/main.js ]]; then
  echo "bench: building dist/ (sources changed)" >&2
  npm run --silent build >&2
  touch dist/cli/main.js
fi

# The pipeline and stats rows need the local stack; it is left running afterwards (stop: npm run stack:down).
if [[ -z "${FINSENTRY_BENCH_NO_STACK:-}" ]]; then
  bash scripts/stack/stack.sh up >&2
fi

exec node dist/cli/main.js bench "$@"
