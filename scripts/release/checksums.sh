#!/usr/bin/env bash
# Release step (.github/workflows/release.yml): check every `<asset>.sha256` in DIST against its
# asset, write the combined DIST/SHA256SUMS, and record it in the repository as
# checksums/v<version>.sha256 — the file the GitHub Action verifies downloads against — and
# move checksums/LATEST (the action's default version) forward when this release is newer.
#
# usage: checksums.sh VERSION DIST [REPO_ROOT]
set -euo pipefail

if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then
  echo "usage: checksums.sh VERSION DIST [REPO_ROOT]" >&2
  exit 2
fi
version="${1#v}"
dist="$2"
root="${3:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "checksums.sh: invalid version '$version'" >&2
  exit 2
fi

sha256_of() {
  local out
  if command -v sha256sum >/dev/null 2>&1; then out="$(sha256sum "$1")"; else out="$(shasum -a 256 "$1")"; fi
  printf '%s' "${out%% *}"
}

shopt -s nullglob
sidecars=("$dist"/infracheck-v"$version"-*.sha256)
if [ "${#sidecars[@]}" -eq 0 ]; then
  echo "checksums.sh: no infracheck-v$version-*.sha256 files in $dist" >&2
  exit 1
fi
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
for side in "${sidecars[@]}"; do
  read -r sum asset <"$side"
  asset="${asset#\*}"
  if [ "$asset" != "$(basename "${side%.sha256}")" ] || [ ! -f "$dist/$asset" ]; then
    echo "checksums.sh: $side does not describe an asset beside it" >&2
    exit 1
  fi
  actual="$(sha256_of "$dist/$asset")"
  if [ "$actual" != "$sum" ]; then
    echo "checksums.sh: $asset: sha256 $actual does not match $side ($sum)" >&2
    exit 1
  fi
  printf '%s  %s\n' "$sum" "$asset" >>"$tmp"
done
LC_ALL=C sort -k2 "$tmp" >"$dist/SHA256SUMS"

mkdir -p "$root/checksums"
cp "$dist/SHA256SUMS" "$root/checksums/v$version.sha256"
latest=""
if [ -f "$root/checksums/LATEST" ]; then latest="$(tr -d ' \r\n' <"$root/checksums/LATEST")"; fi
# Pre-releases (1.2.0-rc.1) never become the default.
if [[ "$version" != *-* ]]; then
  newest="$(printf '%s\n%s\n' "$latest" "$version" | sed '/^$/d' | sort -t. -k1,1n -k2,2n -k3,3n | tail -n1)"
  if [ "$newest" = "$version" ]; then printf '%s\n' "$version" >"$root/checksums/LATEST"; fi
fi
cat "$dist/SHA256SUMS"
