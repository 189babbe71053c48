#!/usr/bin/env bash
# npm run demo [-- OPTIONS]: the whole job on the embedded local stack, from a fresh clone after
# `npm ci`. Builds dist/ when a source is newer (always on a fresh clone), starts what is not running
# of the local stack (Kafka, Redis, Prometheus, Alertmanager: scripts/stack/stack.sh up --prometheus,
# which installs missing Debian packages), then runs `finsentry demo OPTIONS` in this process (exec),
# so that Ctrl-C reaches the demo, which stops the replay and the service in order.
#
#   npm run demo -- --help      the options (needs neither the stack nor the models)
#   FINSENTRY_DEMO_NO_STACK=1   do not start the local stack (servers of your own: --brokers, --redis-url)
#
# The stack is left running afterwards (npm run stack:down stops it).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'demo: %s\n' "$*" >&2; }

if [[ ! -d node_modules ]]; then
  say "node_modules/ is missing: run npm ci first"
  exit 1
fi

if [[ ! -f dist/cli/main.js ]] || [[ -n "$(find src -name '*.ts' -newer dist/cli/main.js -print -quit)" ]] ||
  [[ package.json -nt dist/cli/main.js ]] || [[ tsconfig.build.json -nt dist/cli/main.js ]]; then
  say "building dist/ (npm run build)"
  npm run --silent build >&2
  touch dist/cli/main.js
fi

needs_stack=1
for arg in "$@"; do
  case "$arg" in
    -h | --help) needs_stack=0 ;;
    --brokers | --brokers=*) needs_stack=0 ;; # the user's own Kafka (and Redis): nothing local to start
  esac
done
[[ -n "${FINSENTRY_DEMO_NO_STACK:-}" ]] && needs_stack=0

if ((needs_stack)); then
  say "starting the local stack (scripts/stack/stack.sh up --prometheus; first run: downloads and installs)"
  bash scripts/stack/stack.sh up --prometheus >&2
fi

exec node dist/cli/main.js demo "$@"
