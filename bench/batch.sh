#!/usr/bin/env bash
# hf batch against the in-repo fake API in webhook mode through a fake ngrok
# edge: overhead per job over the ideal schedule, peak RSS, status GETs per
# job and tunnel sessions at 100/200/1000 jobs, and the re-run of an
# up-to-date 1000-job manifest; min/median/max over RUNS runs (default 5).
# Each hf runs with its own empty HOME, config and state dirs and none of the
# caller's HF_*/NGROK_* variables (bench/env_test.go: isolatedEnv), so the
# figures do not depend on how hf is configured here.
set -euo pipefail
cd "$(dirname "$0")/.."
go test ./bench -run '^$' -bench Batch -benchtime 1x -count 1 -timeout 60m -v 2>&1 | grep -E 'Benchmark|jobs|re-run' | grep -v '^goos'
