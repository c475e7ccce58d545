#!/usr/bin/env bash
# Install step of the infracheck GitHub Action (action.yml): pick the release asset for this
# runner, download it, verify its SHA-256 against the checksums committed in this action's
# repository (checksums/v<version>.sha256), unpack it under $RUNNER_TEMP and put it on PATH.
# A copy of the same version already installed and verified in this job is reused.
#
# Environment (the action passes its inputs through `env:`, never `${{ }}` in `run:`):
#   INFRACHECK_VERSION      release to install, `1.2.3` or `v1.2.3`; empty = checksums/LATEST
#   INFRACHECK_REPOSITORY   owner/repo whose releases to download (default: this action's repo)
#   INFRACHECK_RELEASE_BASE_URL  testing only: download from `<url>/v<version>/<asset>` instead
#                           of the GitHub release; https, file:// or http on loopback
#   RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP, GITHUB_PATH, GITHUB_OUTPUT, GITHUB_ACTION_PATH
# Outputs: version, target, path (native path of the binary), bin (the same for bash),
#   cache-hit (true when an installed copy was reused).
set -euo pipefail

die() {
  # One line the runner turns into an error annotation, and the same text for humans.
  printf '::error title=infracheck install::%s\n' "$1"
  printf 'infracheck install: %s\n' "$1" >&2
  exit 1
}

to_unix() {
  if command -v cygpath >/dev/null 2>&1; then cygpath -u "$1"; else printf '%s' "$1"; fi
}
to_native() {
  if command -v cygpath >/dev/null 2>&1; then cygpath -w "$1"; else printf '%s' "$1"; fi
}

sha256_of() {
  local out
  if command -v sha256sum >/dev/null 2>&1; then
    out="$(sha256sum "$1")"
  elif command -v shasum >/dev/null 2>&1; then
    out="$(shasum -a 256 "$1")"
  else
    die "neither sha256sum nor shasum is available to verify the download"
  fi
  out="${out%% *}"
  # sha256sum on Windows prefixes a backslash when the path has one.
  out="${out#\\}"
  printf '%s' "$out" | tr 'A-F' 'a-f'
}

: "${RUNNER_OS:?RUNNER_OS is not set: run this inside a GitHub Actions job}"
: "${RUNNER_ARCH:?RUNNER_ARCH is not set: run this inside a GitHub Actions job}"
: "${RUNNER_TEMP:?RUNNER_TEMP is not set: run this inside a GitHub Actions job}"
: "${GITHUB_PATH:?GITHUB_PATH is not set}"
: "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"

action_path="${GITHUB_ACTION_PATH:-}"
if [ -z "$action_path" ]; then
  action_path="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fi
action_path="$(to_unix "$action_path")"
checksums_dir="$action_path/checksums"

# --- version ---------------------------------------------------------------------------
version="${INFRACHECK_VERSION:-}"
if [ -z "$version" ]; then
  if [ ! -f "$checksums_dir/LATEST" ]; then
    die "this action ref has no release yet (no checksums/LATEST): set the \`version\` input to a release listed in checksums/"
  fi
  version="$(tr -d ' \r\n' <"$checksums_dir/LATEST")"
fi
version="${version#v}"
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  die "invalid version '$version': expected a release number such as 1.2.3"
fi

# --- platform -> release target --------------------------------------------------------
case "$RUNNER_OS/$RUNNER_ARCH" in
  Linux/X64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64) target=aarch64-unknown-linux-musl ;;
  macOS/X64) target=x86_64-apple-darwin ;;
  macOS/ARM64) target=aarch64-apple-darwin ;;
  # Windows on Arm runs x64 programs through its built-in emulation.
  Windows/X64 | Windows/ARM64) target=x86_64-pc-windows-msvc ;;
  *) die "no infracheck release for RUNNER_OS=$RUNNER_OS RUNNER_ARCH=$RUNNER_ARCH (supported: Linux X64/ARM64, macOS X64/ARM64, Windows X64)" ;;
esac
case "$target" in
  *-windows-*) ext=zip exe=infracheck.exe ;;
  *) ext=tar.gz exe=infracheck ;;
esac
name="infracheck-v${version}-${target}"
asset="${name}.${ext}"

# --- the committed checksum -------------------------------------------------------------
sums="$checksums_dir/v${version}.sha256"
if [ ! -f "$sums" ]; then
  die "no committed checksums for infracheck v${version} in this action (checksums/v${version}.sha256): use a release listed in checksums/, or an action ref made after that release"
fi
expected=""
while read -r sum file || [ -n "$sum" ]; do
  file="${file#\*}"
  if [ "$file" = "$asset" ]; then
    expected="$(printf '%s' "$sum" | tr 'A-F' 'a-f')"
    break
  fi
done <"$sums"
if ! [[ "$expected" =~ ^[0-9a-f]{64}$ ]]; then
  die "checksums/v${version}.sha256 has no valid SHA-256 for $asset"
fi

# --- reuse ------------------------------------------------------------------------------
temp="$(to_unix "$RUNNER_TEMP")"
install_dir="$temp/infracheck/v${version}/${target}"
bin="$install_dir/$exe"
marker="$install_dir/.infracheck-sha256"
cache_hit=false
if [ -x "$bin" ] && [ -f "$marker" ] && [ "$(cat "$marker")" = "$expected" ]; then
  cache_hit=true
  echo "infracheck v${version} already installed in $install_dir (verified $expected); reusing it"
else
  # --- download ---------------------------------------------------------------------------
  base="${INFRACHECK_RELEASE_BASE_URL:-}"
  if [ -n "$base" ]; then
    base="${base%/}"
    url="$base/v${version}/${asset}"
    case "$base" in
      https://*) proto=(--proto '=https' --tlsv1.2) ;;
      file://*) proto=(--proto '=file') ;;
      http://127.0.0.1:* | http://127.0.0.1/* | http://127.0.0.1 | http://localhost:* | http://localhost/* | http://localhost)
        proto=(--proto '=http') ;;
      *) die "INFRACHECK_RELEASE_BASE_URL must be https://, file:// or http on loopback: $base" ;;
    esac
  else
    repo="${INFRACHECK_REPOSITORY:-}"
    if [ -z "$repo" ]; then
      # A remote action is checked out at .../_actions/<owner>/<repo>/<ref>.
      case "$action_path" in
        */_actions/*/*/*)
          rest="${action_path#*/_actions/}"
          owner="${rest%%/*}"
          rest="${rest#*/}"
          repo="$owner/${rest%%/*}"
          ;;
      esac
    fi
    repo="${repo:-${GITHUB_REPOSITORY:-}}"
    if ! [[ "$repo" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]]; then
      die "cannot tell which repository to download infracheck from: set INFRACHECK_REPOSITORY"
    fi
    url="https://github.com/${repo}/releases/download/v${version}/${asset}"
    proto=(--proto '=https' --tlsv1.2)
  fi

  work="$(mktemp -d "$temp/infracheck-download.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  echo "downloading $url"
  if ! curl "${proto[@]}" -fsSL --retry 5 -o "$work/$asset" "$url"; then
    die "download failed: $url"
  fi

  actual="$(sha256_of "$work/$asset")"
  if [ "$actual" != "$expected" ]; then
    die "checksum mismatch for $asset: expected $expected (committed in checksums/v${version}.sha256), got $actual; refusing to run it"
  fi
  echo "verified $asset: sha256 $actual"

  # --- unpack -----------------------------------------------------------------------------
  mkdir "$work/unpacked"
  if [ "$ext" = zip ]; then
    if command -v unzip >/dev/null 2>&1; then
      unzip -q "$work/$asset" -d "$work/unpacked"
    elif command -v 7z >/dev/null 2>&1; then
      7z x -bd -y "-o$work/unpacked" "$work/$asset" >/dev/null
    elif command -v pwsh >/dev/null 2>&1 || command -v powershell >/dev/null 2>&1; then
      ps="$(command -v pwsh || command -v powershell)"
      # shellcheck disable=SC2016 # PowerShell expands $env:…, not bash.
      ZIP="$(to_native "$work/$asset")" DEST="$(to_native "$work/unpacked")" \
        "$ps" -NoProfile -NonInteractive -Command 'Expand-Archive -LiteralPath $env:ZIP -DestinationPath $env:DEST'
    else
      die "need unzip, 7z or PowerShell to unpack $asset"
    fi
  else
    tar -xzf "$work/$asset" -C "$work/unpacked"
  fi
  if [ ! -f "$work/unpacked/$name/$exe" ]; then
    die "$asset does not contain $name/$exe"
  fi

  rm -rf "$install_dir"
  mkdir -p "$(dirname "$install_dir")"
  mv "$work/unpacked/$name" "$install_dir"
  chmod +x "$bin"
  printf '%s' "$expected" >"$marker"
fi

if ! version_line="$("$bin" --version 2>&1)"; then
  die "the installed binary does not run on this runner ($target): $version_line"
fi
echo "$version_line"

native_dir="$(to_native "$install_dir")"
printf '%s\n' "$native_dir" >>"$GITHUB_PATH"
{
  printf 'version=%s\n' "$version"
  printf 'target=%s\n' "$target"
  printf 'path=%s\n' "$(to_native "$bin")"
  printf 'bin=%s\n' "$bin"
  printf 'cache-hit=%s\n' "$cache_hit"
} >>"$GITHUB_OUTPUT"
