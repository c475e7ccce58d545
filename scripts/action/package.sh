#!/usr/bin/env bash
# Package one built infracheck binary as a release asset, the way the action expects it:
#   infracheck-v<version>-<target>.tar.gz   (.zip for Windows targets)
# holding a directory of the same name with the binary, README.md, CHANGELOG.md and the
# licence files, plus <asset>.sha256 in `sha256sum` format beside it.
# Used by .github/workflows/release.yml, action-test.yml and the test suite.
#
# usage: package.sh VERSION TARGET BINARY OUTDIR
set -euo pipefail

if [ "$#" -ne 4 ]; then
  echo "usage: package.sh VERSION TARGET BINARY OUTDIR" >&2
  exit 2
fi
version="${1#v}"
target="$2"
binary="$3"
outdir="$4"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

case "$target" in
  *-windows-*) ext=zip exe=infracheck.exe ;;
  *) ext=tar.gz exe=infracheck ;;
esac
name="infracheck-v${version}-${target}"
asset="${name}.${ext}"

if [ ! -f "$binary" ]; then
  echo "package.sh: binary not found: $binary" >&2
  exit 1
fi
mkdir -p "$outdir"
outdir="$(cd "$outdir" && pwd)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
cp "$binary" "$stage/$name/$exe"
chmod 755 "$stage/$name/$exe"
for f in README.md CHANGELOG.md LICENSE LICENSE-MIT LICENSE-APACHE; do
  if [ -f "$root/$f" ]; then cp "$root/$f" "$stage/$name/"; fi
done

rm -f "$outdir/$asset"
if [ "$ext" = zip ]; then
  if command -v zip >/dev/null 2>&1; then
    (cd "$stage" && zip -qr -X "$outdir/$asset" "$name")
  elif command -v 7z >/dev/null 2>&1; then
    (cd "$stage" && 7z a -tzip -bd "$outdir/$asset" "$name" >/dev/null)
  else
    py="$(command -v python3 || command -v python || true)"
    if [ -z "$py" ]; then
      echo "package.sh: need zip, 7z or python to build $asset" >&2
      exit 1
    fi
    (cd "$stage" && "$py" -m zipfile -c "$outdir/$asset" "$name")
  fi
else
  (cd "$stage" && tar -czf "$outdir/$asset" "$name")
fi

if command -v sha256sum >/dev/null 2>&1; then
  sum="$(sha256sum "$outdir/$asset")"
else
  sum="$(shasum -a 256 "$outdir/$asset")"
fi
sum="${sum%% *}"
printf '%s  %s\n' "$sum" "$asset" >"$outdir/$asset.sha256"
echo "$outdir/$asset"
