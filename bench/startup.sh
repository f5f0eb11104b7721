#!/usr/bin/env bash
# Start-up time of hf against a hello-world Go binary, both built here and now
# with the same toolchain and flags (CGO_ENABLED=0 -trimpath -ldflags='-s -w',
# as releases are built). Runs hf version, hf --help, hf completion bash and
# hf history (empty state dir) and the hello-world RUNS times each and prints
# min/median/max side by side with each median's ratio to the hello-world's.
# Issue 13's goal: every median <= 2.5x the hello-world's.
#
#   bench/startup.sh                 # hyperfine when installed, else the loop
#   RUNS=50 bench/startup.sh
#   TOOL=loop bench/startup.sh       # the built-in loop (interleaves commands)
#   CGO_ENABLED=1 bench/startup.sh   # the default build on a machine with cc
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-30}
WARMUP=${WARMUP:-5}
TOOL=${TOOL:-auto}
GOAL=2.5
export CGO_ENABLED=${CGO_ENABLED:-0}
if [ "$TOOL" = auto ]; then
	if command -v hyperfine >/dev/null; then TOOL=hyperfine; else TOOL=loop; fi
fi
case $TOOL in hyperfine | loop) ;; *)
	echo "startup.sh: TOOL must be auto, hyperfine or loop" >&2
	exit 2
	;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/hello" "$tmp/loop" "$tmp/state" "$tmp/config" "$tmp/home"

flags=(-trimpath "-ldflags=-s -w")
go build "${flags[@]}" -o "$tmp/hf" ./cmd/hf
cat >"$tmp/hello/main.go" <<'EOF'
package main

import "fmt"

func main() { fmt.Println("hello, world") }
EOF
(cd "$tmp/hello" && GOWORK=off go mod init hello >/dev/null 2>&1 && GOWORK=off go build "${flags[@]}" -o "$tmp/hello-world" .)

# A reference in between: every non-hf package hf links, blank-imported by an
# otherwise empty main, shows what the dependencies' link and init cost alone
# (ngrok and its protobuf registrations, viper, lipgloss, cobra, ...).
mkdir -p "$tmp/deps"
sed 's/^module .*/module depsonly/' go.mod >"$tmp/deps/go.mod"
cp go.sum "$tmp/deps/"
{
	printf 'package main\n\nimport (\n\t"os"\n\n'
	go list -deps ./cmd/hf | grep '\.' | grep -v -e '^github.com/hf-cli/hf' -e '^vendor/' -e '/internal' -e '^internal/' |
		sed 's/.*/\t_ "&"/'
	printf ')\n\nfunc main() { os.Stdout.WriteString("deps\\n") }\n'
} >"$tmp/deps/main.go"
(cd "$tmp/deps" && GOWORK=off GOFLAGS=-mod=mod go build "${flags[@]}" -o "$tmp/deps-only" .)

# The loop: RUNS rounds, each running every command once in turn, so a
# change of load on a shared machine hits all commands alike. Wall time of
# fork+exec+wait, output to /dev/null, as hyperfine -N measures.
cat >"$tmp/loop/main.go" <<'EOF'
package main

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	runs, _ := strconv.Atoi(os.Args[1])
	warmup, _ := strconv.Atoi(os.Args[2])
	cmds := os.Args[3:]
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		panic(err)
	}
	times := make([][]time.Duration, len(cmds))
	for r := -warmup; r < runs; r++ {
		for i, c := range cmds {
			argv := strings.Fields(c)
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Stdout, cmd.Stderr = null, null
			start := time.Now()
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", c, err)
				os.Exit(1)
			}
			if d := time.Since(start); r >= 0 {
				times[i] = append(times[i], d)
			}
		}
	}
	fmt.Println("command,median,min,max")
	for i, c := range cmds {
		t := times[i]
		slices.Sort(t)
		med := t[len(t)/2]
		if len(t)%2 == 0 {
			med = (t[len(t)/2-1] + t[len(t)/2]) / 2
		}
		fmt.Printf("%s,%.9f,%.9f,%.9f\n", c, med.Seconds(), t[0].Seconds(), t[len(t)-1].Seconds())
	}
}
EOF
(cd "$tmp/loop" && GOWORK=off go mod init loop >/dev/null 2>&1 && CGO_ENABLED=0 GOWORK=off go build -o "$tmp/timer" .)

goinfo=$(go env GOVERSION GOOS GOARCH | paste -sd' ')
# A clean environment for the runs (no go command after this: it would write
# its telemetry there): no config file, an empty journal, no terminal.
export XDG_STATE_HOME="$tmp/state" XDG_CONFIG_HOME="$tmp/config" HOME="$tmp/home"
# Nor any of the caller's hf settings (HF_DEBUG=1, HF_CONFIG, ...).
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(HF_|NGROK_)' || true)
unset HF_CONFIG HF_DEBUG HF_KEY HF_CREDENTIALS HF_API_KEY HF_API_SECRET HF_API_KEY_ID HF_API_KEY_SECRET

hf=$tmp/hf
cmds=("$tmp/hello-world" "$tmp/deps-only" "$hf version" "$hf --help" "$hf completion bash" "$hf history")
for c in "${cmds[@]}"; do
	# shellcheck disable=SC2086 # the command is words
	$c >/dev/null 2>"$tmp/err" || {
		echo "startup.sh: $c failed:" >&2
		cat "$tmp/err" >&2
		exit 1
	}
done

csv=$tmp/times.csv
if [ "$TOOL" = hyperfine ]; then
	# Its warnings about outliers go to stderr; show them only on failure.
	hyperfine -N --style none --warmup "$WARMUP" --runs "$RUNS" --export-csv "$csv" "${cmds[@]}" >/dev/null 2>"$tmp/err" || {
		cat "$tmp/err" >&2
		exit 1
	}
else
	"$tmp/timer" "$RUNS" "$WARMUP" "${cmds[@]}" >"$csv"
fi

size() { stat -c %s "$1" 2>/dev/null || stat -f %z "$1"; }
printf 'hf start-up vs a hello-world, %s, %s cores, load %s\n' \
	"$goinfo" "$(getconf _NPROCESSORS_ONLN)" \
	"$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
mb() { awk -v b="$(size "$1")" 'BEGIN { printf "%.1f", b / 1048576 }'; }
printf 'built with CGO_ENABLED=%s -trimpath -ldflags='"'"'-s -w'"'"': hf %s MiB, hello-world %s MiB; %s runs each (%s)\n\n' \
	"$CGO_ENABLED" "$(mb "$hf")" "$(mb "$tmp/hello-world")" "$RUNS" "$TOOL"

# The CSV's columns by name (hyperfine adds mean, stddev, user, system).
awk -F, -v tmp="$tmp/" -v goal="$GOAL" '
NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
{
	name = $col["command"]; sub(tmp, "", name)
	n++; names[n] = name
	med[n] = $col["median"] * 1000; lo[n] = $col["min"] * 1000; hi[n] = $col["max"] * 1000
}
END {
	printf "%-20s %8s %8s %8s %8s %8s\n", "command", "min ms", "median", "max", "ratio", "min/min"
	over = 0
	for (i = 1; i <= n; i++) {
		r = med[i] / med[1]
		if (names[i] ~ /^hf / && r > goal) over++
		printf "%-20s %8.2f %8.2f %8.2f %7.2fx %7.2fx\n", names[i], lo[i], med[i], hi[i], r, lo[i] / lo[1]
	}
	printf "\nratio = median / the hello-world median (min/min: the same for the fastest runs,\n"
	printf "less sensitive to a busy machine); goal: ratio <= %.1fx: %s\n", goal, over ? over " command(s) over" : "met"
	if (med[1] > 1.3 * lo[1])
		printf "warning: the hello-world median is %.1fx its min: the machine was busy and the\nratios are unreliable; re-run, or TOOL=loop to interleave the commands\n", med[1] / lo[1]
}' "$csv"
