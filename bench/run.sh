#!/usr/bin/env bash
# Completion→exit latency and status GETs per request of the built hf binary
# against the in-repo fake API, webhook mode vs poll mode, 20 runs each.
# Each hf runs with its own empty HOME, config and state dirs and none of the
# caller's HF_*/NGROK_* variables (bench/env_test.go: isolatedEnv), so the
# figures do not depend on how hf is configured here.
set -euo pipefail
cd "$(dirname "$0")/.."
go test ./bench -run '^$' -bench Notify -benchtime "${RUNS:-20}x" -count 1 -v 2>&1 | grep -E 'Benchmark|completion'
