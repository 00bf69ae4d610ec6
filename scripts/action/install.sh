#!/usr/bin/env bash
# Installs rotplan for the GitHub action: the release archive of VERSION
# ("latest", or a tag such as v0.2.0) for the runner's OS and architecture,
# checked against the release's checksums.txt, into RUNNER_TEMP, and puts it
# on the PATH of the job's later steps. VERSION=none installs nothing: the
# job provides rotplan itself (go install, a container image).
set -euo pipefail

version=${VERSION:-latest}
if [ "$version" = none ]; then
  command -v rotplan >/dev/null || { echo "rotplan action: version none, and there is no rotplan on PATH" >&2; exit 1; }
  exit 0
fi
case "${RUNNER_OS:-$(uname -s)}" in
Linux) os=linux ;; macOS | Darwin) os=darwin ;; Windows) os=windows ;;
*) echo "rotplan action: unsupported OS ${RUNNER_OS:-}" >&2; exit 1 ;;
esac
case "${RUNNER_ARCH:-$(uname -m)}" in
X64 | x86_64 | amd64) arch=amd64 ;; ARM64 | arm64 | aarch64) arch=arm64 ;;
*) echo "rotplan action: unsupported architecture ${RUNNER_ARCH:-}" >&2; exit 1 ;;
esac
ext=tar.gz
[ "$os" = windows ] && ext=zip
repo=${ROTPLAN_REPOSITORY:-rotplan/rotplan}
base="${GITHUB_SERVER_URL:-https://github.com}/$repo/releases"
if [ "$version" = latest ]; then base="$base/latest/download"; else base="$base/download/$version"; fi
archive="rotplan_${os}_${arch}.${ext}"

dest="${RUNNER_TEMP:-$(mktemp -d)}/rotplan-bin"
mkdir -p "$dest"
cd "$dest"
curl -fsSL --retry 3 -o "$archive" "$base/$archive"
curl -fsSL --retry 3 -o checksums.txt "$base/checksums.txt"
grep " $archive\$" checksums.txt | sha256sum -c - >/dev/null || { echo "rotplan action: $archive does not match the release's checksums.txt" >&2; exit 1; }
if [ "$ext" = zip ]; then unzip -oq "$archive"; else tar -xzf "$archive"; fi
[ -n "${GITHUB_PATH:-}" ] && echo "$dest" >>"$GITHUB_PATH"
"$dest/rotplan" version
