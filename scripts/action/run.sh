#!/usr/bin/env bash
# Run step of the infracheck GitHub Action (action.yml): build the command line from the
# action's inputs, which arrive as environment variables (never `${{ }}` inside `run:`), and
# run infracheck in GitHub mode. infracheck itself appends the step summary, prints the
# annotations and writes passed/warned/failed/total/status to $GITHUB_OUTPUT; this script
# adds the report paths it asked for as report_junit, report_sarif, report_json,
# report_markdown and report_html, and infracheck's exit code as exit_code. The step's exit
# code is infracheck's, except that `fail: false` turns 1 (checks failed) into 0.
#
# Environment: INFRACHECK_BIN (default: infracheck on PATH), INPUT_ENV (required),
#   INPUT_CONFIG, INPUT_FAIL_ON_WARN (true/false), INPUT_BASELINE (a JSON document; empty = no
#   comparison), INPUT_FAIL_ON (any/new), INPUT_JUNIT, INPUT_SARIF, INPUT_JSON,
#   INPUT_MARKDOWN, INPUT_HTML (empty = that report is not written), INPUT_HISTORY (the
#   run-history file; empty = none), INPUT_FAIL, INPUT_SUMMARY, INPUT_ANNOTATIONS (true/false,
#   default true), INPUT_TAGS (comma-separated tags, one `--tags` per line), INPUT_ONLY (one
#   name glob per line), INPUT_COMMENT (true/false, default false: post the markdown report on
#   the pull request with `infracheck comment`), INPUT_GITHUB_TOKEN (its token), INPUT_ARGS (extra arguments: one per line when any line break is
#   present, otherwise split on whitespace; never evaluated by a shell), GITHUB_OUTPUT.
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

# flag NAME VALUE DEFAULT: REPLY=true or false from a boolean input (empty = DEFAULT);
# anything else is a usage error naming the input.
flag() {
  case "${2:-$3}" in
    true | True | TRUE) REPLY=true ;;
    false | False | FALSE) REPLY=false ;;
    *) die "$1 must be true or false, not '$2'" ;;
  esac
}
flag fail-on-warn "${INPUT_FAIL_ON_WARN:-}" false
fail_on_warn="$REPLY"
flag fail "${INPUT_FAIL:-}" true
fail="$REPLY"
flag summary "${INPUT_SUMMARY:-}" true
summary="$REPLY"
flag annotations "${INPUT_ANNOTATIONS:-}" true
annotations="$REPLY"
flag comment "${INPUT_COMMENT:-}" false
comment="$REPLY"
# The token reaches `infracheck comment` alone, never the run (whose config reads the
# environment) and never a command line.
token="${INPUT_GITHUB_TOKEN:-}"
unset INPUT_GITHUB_TOKEN

argv=(run --env "$env_name" --config "$config" --github)
[ "$fail_on_warn" = false ] || argv+=(--fail-on-warn)
[ "$summary" = true ] || argv+=(--no-step-summary)
[ "$annotations" = true ] || argv+=(--no-annotations)
# selection FLAG VALUE: one FLAG per non-empty line of VALUE, surrounding blanks trimmed.
selection() {
  local flag="$1" line
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line//$'\r'/}"
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [ -z "$line" ] || argv+=("$flag" "$line")
  done <<<"$2"
}
[ -z "${INPUT_TAGS:-}" ] || selection --tags "$INPUT_TAGS"
[ -z "${INPUT_ONLY:-}" ] || selection --only "$INPUT_ONLY"
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
# The comment posts the markdown report: a file of the step's own when the markdown input is
# empty.
comment_markdown="${INPUT_MARKDOWN:-}"
if [ "$comment" = true ]; then
  [ -n "$token" ] || die "comment: true needs the github-token input (default: the job's token)"
  if [ -z "$comment_markdown" ]; then
    comment_markdown="$(mktemp "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/infracheck-comment.XXXXXX")"
    argv+=(--markdown "$comment_markdown")
  else
    rm -f -- "$comment_markdown"
  fi
fi

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
run_code="$code"
printf 'exit_code=%s\n' "$code" >>"$GITHUB_OUTPUT"
if [ "$code" = 1 ] && [ "$fail" = false ]; then
  echo "infracheck exited 1 (checks failed); the step stays green because fail is false"
  code=0
fi
# The comment, after a finished run (0 or 1: every report written). Its failure fails a step
# that would otherwise be green; a 403 (a fork) is only a warning (infracheck exits 0).
if [ "$comment" = true ]; then
  if [ "$run_code" -le 1 ] && [ -s "$comment_markdown" ]; then
    set +e
    GITHUB_TOKEN="$token" "$bin" comment --env "$env_name" --markdown "$comment_markdown"
    comment_code=$?
    set -e
    [ "$comment_code" = 0 ] || [ "$code" != 0 ] || code="$comment_code"
  else
    printf '::warning title=infracheck::%s\n' "no pull-request comment: the run did not finish (exit code $run_code)"
  fi
fi
exit "$code"
