#!/usr/bin/env bash
# 256 MiB download on loopback: pkg/download (fsynced before publish) vs
# curl -o (no fsync), side by side, min/median/max over RUNS runs (default
# 5), with CPU time and peak RSS. MIB=N changes the size; OUTPUTS=N saves it
# as N outputs at once (curl --parallel beside it), as one request's outputs are.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v curl >/dev/null || { echo "download.sh needs curl" >&2; exit 1; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/download-bench" ./bench/download
"$bin/download-bench" -mib "${MIB:-256}" -runs "${RUNS:-5}" -outputs "${OUTPUTS:-1}"
