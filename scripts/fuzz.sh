#!/usr/bin/env bash
# Run hf's Go fuzzers, one after another, each for a fixed time, and stop at
# the first failure. `go test ./...` (CI) only replays the committed seed
# corpora under testdata/fuzz; this script is how to look for new inputs.
#
#   scripts/fuzz.sh                      every fuzzer, 30s each
#   FUZZTIME=5m scripts/fuzz.sh          longer (any -fuzztime value: 90s, 10000x)
#   scripts/fuzz.sh FuzzRender FuzzExtFor   only these
#   scripts/fuzz.sh -list                print the fuzzers and exit
#
# A failing input is written by `go test` to testdata/fuzz/<FuzzName>/ in the
# fuzzer's package; replay it with the `go test -run=...` line it prints.
# Other settings: FUZZPARALLEL (go test -parallel, default GOMAXPROCS),
# GOFLAGS as usual.
set -euo pipefail

cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-30s}

# package  fuzzer
targets=(
	"./pkg/webhook FuzzReceiver"
	"./pkg/webhook FuzzDecodeRaw"
	"./pkg/signature FuzzVerify"
	"./pkg/higgsfield FuzzParseStatus"
	"./pkg/higgsfield FuzzAPIError"
	"./pkg/cmd/generate FuzzParseSet"
	"./pkg/cmd/generate FuzzBuildParams"
	"./pkg/download FuzzRender"
	"./pkg/download FuzzExtFor"
	"./pkg/download FuzzFetchName"
	"./pkg/batch FuzzLoad"
)

if [[ ${1:-} == -list ]]; then
	printf '%s\n' "${targets[@]}"
	exit 0
fi

selected=()
for t in "${targets[@]}"; do
	name=${t#* }
	if (($# == 0)); then
		selected+=("$t")
		continue
	fi
	for want in "$@"; do
		[[ $want == "$name" ]] && selected+=("$t")
	done
done
if ((${#selected[@]} == 0)); then
	echo "fuzz.sh: no fuzzer named $*; try: scripts/fuzz.sh -list" >&2
	exit 2
fi

extra=()
[[ -n ${FUZZPARALLEL:-} ]] && extra+=("-parallel=$FUZZPARALLEL")

for t in "${selected[@]}"; do
	pkg=${t% *}
	name=${t#* }
	echo "=== $name ($pkg) for $FUZZTIME"
	if ! go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" ${extra[@]+"${extra[@]}"} "$pkg"; then
		echo "fuzz.sh: $name failed on the input named above (a file under $pkg/testdata/fuzz/$name/ or an f.Add seed)" >&2
		exit 1
	fi
done
echo "fuzz.sh: ${#selected[@]} fuzzer(s) ran for $FUZZTIME each without a failure"
