#!/usr/bin/env bash
# Check the release configuration and build a snapshot of every archive and
# package, the way a tagged release would, without publishing anything.
# Slow (cross-builds for 6 targets): not part of CI. Needs only Go.
#
#   scripts/release-check.sh              goreleaser check + snapshot into dist/
#   SKIP_SNAPSHOT=1 scripts/release-check.sh   only goreleaser check
#
# goreleaser is installed from the module proxy at a pinned version into
# $GOBIN (default: $(go env GOPATH)/bin) unless that version is there.
set -euo pipefail
cd "$(dirname "$0")/.."

GORELEASER_VERSION=v2.15.1
bin="$(go env GOBIN)"
bin="${bin:-$(go env GOPATH)/bin}"
gr="$bin/goreleaser"
if ! "$gr" --version 2>/dev/null | grep -q "${GORELEASER_VERSION#v}"; then
	echo "installing goreleaser $GORELEASER_VERSION into $bin" >&2
	GOBIN="$bin" go install "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION"
fi

"$gr" check
if [ -n "${SKIP_SNAPSHOT:-}" ]; then
	exit 0
fi
# The Homebrew cask is skipped with a snapshot; its token is not needed.
HOMEBREW_TAP_TOKEN="${HOMEBREW_TAP_TOKEN:-unused}" "$gr" release --snapshot --clean --skip=publish
ls -l dist/*.tar.gz dist/*.zip dist/*.deb dist/*.rpm
