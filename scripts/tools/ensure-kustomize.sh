#!/usr/bin/env bash
# Makes sure a kustomize binary is available for the k8s render test
# (test/unit/k8s-render.test.ts) and prints its path.
#   1. .stack/bin/kustomize (installed here before)        2. kustomize on PATH
#   3. otherwise `go install` the pinned version into .stack/bin (needs Go and the Go module proxy).
# `kubectl kustomize` (which embeds kustomize) is used by the test too when present; this script
# is for machines without kubectl.
set -euo pipefail

KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.5.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN_DIR="$ROOT/.stack/bin"

if [[ -x "$BIN_DIR/kustomize" ]]; then
  echo "$BIN_DIR/kustomize"
  exit 0
fi
if command -v kustomize >/dev/null 2>&1; then
  command -v kustomize
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-kustomize: neither kustomize nor Go found; install kustomize ${KUSTOMIZE_VERSION} or Go (>= 1.22)" >&2
  exit 1
fi
mkdir -p "$BIN_DIR"
echo "ensure-kustomize: installing sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION} into $BIN_DIR …" >&2
GOBIN="$BIN_DIR" GOFLAGS="-mod=mod" go install "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}" >&2
echo "$BIN_DIR/kustomize"
