#!/usr/bin/env bash
# Run step of the infracheck GitHub Action (action.yml): build the command line from the
# action's inputs, which arrive as environment variables (never `${{ }}` inside `run:`), and
# run infracheck in GitHub mode. infracheck itself appends the step summary, prints the
# annotations and writes passed/warned/failed/total/status to $GITHUB_OUTPUT; this script
# adds the report paths it asked for as report_junit, report_sarif, report_json,
# report_markdown and report_html. The exit code is infracheck's.
#
# Environment: INFRACHECK_BIN (default: infracheck on PATH), INPUT_ENV (required),
#   INPUT_CONFIG, INPUT_FAIL_ON_WARN (true/false), INPUT_BASELINE (a JSON document; empty = no
#   comparison), INPUT_FAIL_ON (any/new), INPUT_JUNIT, INPUT_SARIF, INPUT_JSON,
#   INPUT_MARKDOWN, INPUT_HTML (empty = that report is not written), INPUT_HISTORY (the
#   run-history file; empty = none), INPUT_ARGS (extra arguments: one per
#   line when any line break is present, otherwise split on whitespace; never evaluated by a
#   shell), GITHUB_OUTPUT.
set -euo pipefail

die() {
  printf '::error title=infracheck::%s\n' "$1"
  printf 'infracheck action: %s\n' "$1" >&2
  exit 2
}

: "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
bin="${INFRACHECK_BIN:-infracheck}"
env_name="${INPUT_ENV:-}"
[ -n "$env_name" ] || die "the \`env\` input is required (the environment of the config to check)"
config="${INPUT_CONFIG:-infracheck.yaml}"

argv=(run --env "$env_name" --config "$config" --github)
case "${INPUT_FAIL_ON_WARN:-false}" in
  true | True | TRUE) argv+=(--fail-on-warn) ;;
  false | False | FALSE | "") ;;
  *) die "fail-on-warn must be true or false, not '${INPUT_FAIL_ON_WARN}'" ;;
esac
baseline="${INPUT_BASELINE:-}"
if [ -n "$baseline" ]; then
  case "$baseline" in
    *$'\n'* | *$'\r'*) die "the baseline path contains a line break" ;;
  esac
  argv+=(--baseline "$baseline")
fi
history="${INPUT_HISTORY:-}"
if [ -n "$history" ]; then
  case "$history" in
    *$'\n'* | *$'\r'*) die "the history path contains a line break" ;;
  esac
  argv+=(--history "$history")
fi
case "${INPUT_FAIL_ON:-any}" in
  any | "") ;;
  new)
    [ -n "$baseline" ] || die "fail-on: new needs the baseline input (the JSON report of an earlier run)"
    argv+=(--fail-on new)
    ;;
  *) die "fail-on must be any or new, not '${INPUT_FAIL_ON}'" ;;
esac

report() {
  # report FLAG OUTPUT_NAME PATH
  local flag="$1" output="$2" path="$3"
  [ -n "$path" ] || return 0
  case "$path" in
    *$'\n'* | *$'\r'*) die "the $output path contains a line break" ;;
  esac
  mkdir -p "$(dirname "$path")"
  argv+=("$flag" "$path")
  printf '%s=%s\n' "$output" "$path" >>"$GITHUB_OUTPUT"
}
report --junit report_junit "${INPUT_JUNIT:-}"
report --sarif report_sarif "${INPUT_SARIF:-}"
report --json report_json "${INPUT_JSON:-}"
report --markdown report_markdown "${INPUT_MARKDOWN:-}"
report --html report_html "${INPUT_HTML:-}"

extra="${INPUT_ARGS:-}"
if [ -n "$extra" ]; then
  extra="${extra//$'\r'/}"
  if [[ "$extra" == *$'\n'* ]]; then
    while IFS= read -r line; do
      [ -n "$line" ] && argv+=("$line")
    done <<<"$extra"
  else
    read -r -a words <<<"$extra"
    argv+=(${words[@]+"${words[@]}"})
  fi
fi

echo "infracheck ${argv[*]}"
set +e
"$bin" "${argv[@]}"
code=$?
set -e
exit "$code"
