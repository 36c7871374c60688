#!/usr/bin/env bash
# Fails on any import cycle in src/ node/ kernels/ web/ (see .dependency-cruiser.cjs for why it checks tsc's output).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$repo/node_modules/.bin/tsc" -p "$repo/tsconfig.cycles.json" --outDir "$out"
cd "$out"
"$repo/node_modules/.bin/depcruise" --config "$repo/.dependency-cruiser.cjs" --output-type err src node kernels web
