#!/usr/bin/env bash
# Install step of the infracheck GitHub Action (action.yml): pick the release asset for this
# runner, download it, verify its SHA-256 against the checksums committed in this action's
# repository (checksums/v<version>.sha256), unpack it under $RUNNER_TEMP and put it on PATH.
# A copy of the same version already installed and verified in this job is reused.
#
# Environment (the action passes its inputs through `env:`, never `${{ }}` in `run:`):
#   INFRACHECK_VERSION      release to install: `1.2.3` or `v1.2.3`; `latest` = the newest
#                           published release; empty = the release this action ref declares
#                           (the ref's own version when it is a release tag, else checksums/LATEST);
#                           `source` = build infracheck from this action's own checkout with
#                           cargo (a branch, a fork or an unreleased commit), reusing a copy
#                           built from the same sources (restored by actions/cache, see
#                           action.yml and `--source-key` below)
#   INFRACHECK_ACTION_REF   the ref the action was used at (`github.action_ref`): when it is an
#                           exact release tag (`v1.2.3`), only that release is installed
#   INFRACHECK_REPOSITORY   owner/repo whose releases to download (default: this action's repo)
#   INFRACHECK_BASE_URL     server in GitHub's layout to download from
#                           (`<url>/<owner>/<repo>/releases/...`): a mirror or GitHub Enterprise
#                           Server; empty = INFRACHECK_SERVER_URL (`github.server_url`), else
#                           https://github.com. https only (http on loopback, for tests)
#   INFRACHECK_RELEASE_BASE_URL  testing only: download from `<url>/v<version>/<asset>` instead
#                           of the GitHub release; https, file:// or http on loopback
#   RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP, GITHUB_PATH, GITHUB_OUTPUT, GITHUB_ACTION_PATH
# Outputs: version, target, path (native path of the binary), bin (the same for bash),
#   cache-hit (true when an installed copy was reused).
#
# `install.sh --source-key` only writes the cache entry of `version: source` to GITHUB_OUTPUT:
#   dir (what to cache: the cargo target dir and the built binary), key (runner OS and arch,
#   Cargo.lock's and the sources' SHA-256) and restore-key (the same without the sources' hash:
#   a new commit with the same Cargo.lock restores the built dependencies).
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

# --- where releases come from -------------------------------------------------------------
# Only https, or plain http on loopback (the tests' file server).
proto_for() {
  case "$1" in
    https://*) proto=(--proto '=https' --tlsv1.2) ;;
    file://*) proto=(--proto '=file') ;;
    http://127.0.0.1:* | http://127.0.0.1/* | http://127.0.0.1 | http://localhost:* | http://localhost/* | http://localhost)
      proto=(--proto '=http') ;;
    *) die "$2 must be https://, file:// or http on loopback: $1" ;;
  esac
}

# Sets `repo`: the owner/name whose releases to download.
resolve_repo() {
  local rest owner
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
}

server="${INFRACHECK_BASE_URL:-}"
server_what="the base-url input"
if [ -z "$server" ]; then
  server="${INFRACHECK_SERVER_URL:-https://github.com}"
  server_what="github.server_url"
fi
server="${server%/}"

# --- version: source --------------------------------------------------------------------
# Everything the build reads: the manifest, the lock file, the build script, the sources and
# docs/ (src/init embeds the CI snippets of docs/ci/).
source_hash() {
  local list f roots=()
  for f in Cargo.toml Cargo.lock build.rs src docs; do
    if [ -e "$action_path/$f" ]; then roots+=("$f"); fi
  done
  list="$(mktemp)"
  (
    cd "$action_path"
    find "${roots[@]}" -type f | LC_ALL=C sort | while IFS= read -r f; do
      printf '%s  %s\n' "$(sha256_of "$f")" "$f"
    done
  ) >"$list"
  sha256_of "$list"
  rm -f "$list"
}

source_dir() {
  printf '%s/infracheck-source' "$(to_unix "$RUNNER_TEMP")"
}

need_source_checkout() {
  if [ ! -f "$action_path/Cargo.toml" ] || [ ! -f "$action_path/Cargo.lock" ]; then
    die "version: source needs the action's own checkout with Cargo.toml and Cargo.lock; $action_path has none"
  fi
}

if [ "${1:-}" = --source-key ]; then
  need_source_checkout
  lock_hash="$(sha256_of "$action_path/Cargo.lock")"
  prefix="infracheck-source-${RUNNER_OS}-${RUNNER_ARCH}-${lock_hash}-"
  {
    printf 'dir=%s\n' "$(to_native "$(source_dir)")"
    printf 'key=%s%s\n' "$prefix" "$(source_hash)"
    printf 'restore-key=%s\n' "$prefix"
  } >>"$GITHUB_OUTPUT"
  exit 0
fi

# Builds infracheck from the action's checkout (or reuses the copy built from the same sources)
# and installs it like a release.
install_from_source() {
  local dir hash bin_dir exe bin marker cache_hit manifest_version built version_line
  need_source_checkout
  dir="$(source_dir)"
  hash="$(source_hash)"
  exe=infracheck
  case "$RUNNER_OS" in Windows) exe=infracheck.exe ;; esac
  bin_dir="$dir/bin"
  bin="$bin_dir/$exe"
  marker="$bin_dir/.infracheck-source-sha256"
  manifest_version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$action_path/Cargo.toml" | head -n1)"
  cache_hit=false
  if [ -x "$bin" ] && [ -f "$marker" ] && [ "$(cat "$marker")" = "$hash" ]; then
    cache_hit=true
    echo "infracheck built from these sources (sha256 $hash) is in $bin_dir; reusing it"
  else
    if ! command -v cargo >/dev/null 2>&1; then
      die "version: source builds infracheck with cargo, which is not on PATH: install a Rust toolchain in an earlier step, or use a released tag"
    fi
    echo "building infracheck $manifest_version from $action_path (cargo build --release --locked)"
    if ! cargo build --release --locked --manifest-path "$(to_native "$action_path/Cargo.toml")" \
      --target-dir "$(to_native "$dir/target")"; then
      die "cargo build --release --locked of $action_path failed (see the log above)"
    fi
    built="$dir/target/release/$exe"
    if [ ! -f "$built" ]; then
      die "cargo build succeeded but left no $built"
    fi
    mkdir -p "$bin_dir"
    cp "$built" "$bin.tmp"
    chmod +x "$bin.tmp"
    mv -f "$bin.tmp" "$bin"
    printf '%s' "$hash" >"$marker"
  fi
  if ! version_line="$("$bin" --version 2>&1)"; then
    die "infracheck built from source does not run: $version_line"
  fi
  echo "$version_line (built from source)"
  printf '%s\n' "$(to_native "$bin_dir")" >>"$GITHUB_PATH"
  {
    printf 'version=%s\n' "$manifest_version"
    printf 'target=source\n'
    printf 'path=%s\n' "$(to_native "$bin")"
    printf 'bin=%s\n' "$bin"
    printf 'cache-hit=%s\n' "$cache_hit"
  } >>"$GITHUB_OUTPUT"
}

# --- version ---------------------------------------------------------------------------
semver='^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$'
# The release an exact release-tag ref (`v1.2.3`) declares; empty for a branch, `v1` or a SHA.
pinned=""
ref="${INFRACHECK_ACTION_REF:-}"
if [[ "$ref" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  pinned="${ref#v}"
fi
# The major tag of this checkout's own version (`v0` while infracheck is 0.x), for messages.
major=""
if [ -f "$action_path/Cargo.toml" ]; then
  major="$(sed -n 's/^version = "\([0-9][0-9]*\)\..*"$/\1/p' "$action_path/Cargo.toml" | head -n1)"
fi
latest_committed=""
if [ -f "$checksums_dir/LATEST" ]; then
  latest_committed="$(tr -d ' \r\n' <"$checksums_dir/LATEST")"
fi

version="${INFRACHECK_VERSION:-}"
if [ "$version" = source ]; then
  install_from_source
  exit 0
fi
version="${version#v}"
from_release_sums=false
if [ "$version" = latest ]; then
  proto_for "$server" "$server_what"
  resolve_repo
  # GitHub (and GHES, and mirrors in its layout) answer /releases/latest with a redirect to
  # /releases/tag/v<newest>.
  if ! effective="$(curl "${proto[@]}" -fsSL --retry 3 -o /dev/null -w '%{url_effective}' "$server/$repo/releases/latest")"; then
    die "cannot resolve version latest: $server/$repo/releases/latest did not answer"
  fi
  version="${effective##*/tag/}"
  version="${version#v}"
  if ! [[ "$version" =~ $semver ]]; then
    die "cannot resolve version latest: $server/$repo/releases/latest led to '$effective', not a release tag"
  fi
  echo "version latest is infracheck v$version"
  [ -f "$checksums_dir/v${version}.sha256" ] || from_release_sums=true
elif [ -z "$version" ]; then
  if [ -n "$pinned" ]; then
    version="$pinned"
  elif [ -n "$latest_committed" ]; then
    version="$latest_committed"
  else
    die "this action ref${ref:+ ($ref)} has no release (no checksums/LATEST): use a released tag${major:+ such as @v$major}, or set \`version: source\` to build infracheck from this ref"
  fi
fi
if ! [[ "$version" =~ $semver ]]; then
  die "invalid version '$version': expected a release number such as 1.2.3, or latest"
fi
# A ref pinned to a release tag installs that release and no other. The release workflow
# commits a release's checksums before it tags that commit, so the tag carries them; a tag made
# the other way round (checksums/LATEST still naming the previous release) must not silently
# run the previous release.
if [ -n "$pinned" ]; then
  if [ "$version" != "$pinned" ]; then
    die "the action is pinned to $ref but infracheck v$version was asked for: pin the action to v$version, or leave the version input empty"
  fi
  if [ ! -f "$checksums_dir/v${pinned}.sha256" ]; then
    die "the action ref $ref does not carry its own release's checksums (no checksums/v${pinned}.sha256; checksums/LATEST says '${latest_committed}'): this tag was made before its release was recorded, so it would install another release; use a tag made by the release workflow"
  fi
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

# --- download location ---------------------------------------------------------------
base="${INFRACHECK_RELEASE_BASE_URL:-}"
if [ -n "$base" ]; then
  base="${base%/}"
  proto_for "$base" INFRACHECK_RELEASE_BASE_URL
  release_url="$base/v${version}"
else
  proto_for "$server" "$server_what"
  resolve_repo
  release_url="$server/$repo/releases/download/v${version}"
fi

# --- the expected checksum ----------------------------------------------------------------
temp="$(to_unix "$RUNNER_TEMP")"
work="$(mktemp -d "$temp/infracheck-download.XXXXXX")"
trap 'rm -rf "$work"' EXIT
if [ "$from_release_sums" = true ]; then
  sums="$work/SHA256SUMS"
  if ! curl "${proto[@]}" -fsSL --retry 5 -o "$sums" "$release_url/SHA256SUMS"; then
    die "download failed: $release_url/SHA256SUMS"
  fi
  echo "::notice title=infracheck install::v${version} is newer than the checksums committed in this action ref; verifying against the release's own SHA256SUMS"
  sums_what="the release's SHA256SUMS"
else
  sums="$checksums_dir/v${version}.sha256"
  if [ ! -f "$sums" ]; then
    die "no committed checksums for infracheck v${version} in this action (checksums/v${version}.sha256): use a release listed in checksums/, \`latest\`, or an action ref made after that release"
  fi
  sums_what="checksums/v${version}.sha256"
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
  die "$sums_what has no valid SHA-256 for $asset"
fi

# --- reuse ------------------------------------------------------------------------------
install_dir="$temp/infracheck/v${version}/${target}"
bin="$install_dir/$exe"
marker="$install_dir/.infracheck-sha256"
cache_hit=false
if [ -x "$bin" ] && [ -f "$marker" ] && [ "$(cat "$marker")" = "$expected" ]; then
  cache_hit=true
  echo "infracheck v${version} already installed in $install_dir (verified $expected); reusing it"
else
  url="$release_url/${asset}"
  echo "downloading $url"
  if ! curl "${proto[@]}" -fsSL --retry 5 -o "$work/$asset" "$url"; then
    die "download failed: $url"
  fi

  actual="$(sha256_of "$work/$asset")"
  if [ "$actual" != "$expected" ]; then
    die "checksum mismatch for $asset: expected $expected ($sums_what), got $actual; refusing to run it"
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
