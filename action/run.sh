#!/usr/bin/env bash
# The pcheck GitHub Action's run step (action.yml), kept in a file so that tests can run it.
#
# Inputs come only through the environment, never pasted into a script (a `${{ }}` in a `run:`
# body would let a crafted value run commands):
#   INPUT_ARGS     arguments to `pcheck check`, split into words as a POSIX shell would split
#                  them and with quotes removed (Python's shlex.split), but NOTHING is expanded:
#                  no $VARS, no $(commands), no backticks, no globs (pcheck expands globs itself)
#   INPUT_FAIL     true|false: exit 1 when pcheck found problems (its exit code 1)
#   INPUT_FORMAT   the report's format (pcheck --format), default markdown
#   INPUT_OUTPUT   also copy the report to this path (optional)
#   INPUT_SUMMARY  true|false: append the report to $GITHUB_STEP_SUMMARY
#   INPUT_ANNOTATIONS   true|false: also print the problems as GitHub annotations (pcheck's github format)
#   INPUT_CHANGED_ONLY  true|false: on a pull request, check only the documents it changes: pcheck's
#                  --changed-since with the pull request's base (the event file's pull_request.base.sha,
#                  else origin/$GITHUB_BASE_REF); elsewhere everything is checked, with a warning
#   PCHECK_PYTHON  the Python that has pcheck installed (default: python3 on PATH)
# pcheck checks ONCE, writing jsonl records; the report (summary, log, `report` output) and the
# annotations are both rendered from those records (`pcheck check --render-from RECORDS --format F`).
# Outputs (to $GITHUB_OUTPUT when set): exit_code (pcheck's), report (the report's path) and records
# (the jsonl records' path).
# Exit status: 0, or pcheck's 1 only when INPUT_FAIL is true; any other code of pcheck's (2 usage
# error, 3 report not written, 129+ ended by a signal) always fails the step: nothing was found,
# something went wrong.
set -uo pipefail

args_text=${INPUT_ARGS-.}
fail=${INPUT_FAIL:-true}
format=${INPUT_FORMAT:-markdown}
output=${INPUT_OUTPUT:-}
summary=${INPUT_SUMMARY:-true}
annotations=${INPUT_ANNOTATIONS:-true}
changed_only=${INPUT_CHANGED_ONLY:-false}
python=${PCHECK_PYTHON:-python3}

# A workflow command's message: %, CR and LF escaped, so that a value cannot start another command.
command_data() {
  local s=${1//'%'/%25}
  s=${s//$'\r'/%0D}
  printf '%s' "${s//$'\n'/%0A}"
}

usage_error() {
  echo "::error title=pcheck action::$(command_data "$1")"
  exit 2
}

case $fail in true|false) ;; *) usage_error "input 'fail' must be true or false, not '$fail'" ;; esac
case $summary in true|false) ;; *) usage_error "input 'summary' must be true or false, not '$summary'" ;; esac
case $annotations in true|false) ;; *) usage_error "input 'annotations' must be true or false, not '$annotations'" ;; esac
case $changed_only in true|false) ;; *) usage_error "input 'changed-only' must be true or false, not '$changed_only'" ;; esac
case $output in *$'\n'*|*$'\r'*) usage_error "input 'output' holds a line break" ;; esac

tmp_dir=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
args_file=$(mktemp "$tmp_dir/pcheck-args.XXXXXX") || exit 2
report=$(mktemp "$tmp_dir/pcheck-report.XXXXXX") || exit 2
records=$(mktemp "$tmp_dir/pcheck-records.XXXXXX") || exit 2
marks=$(mktemp "$tmp_dir/pcheck-annotations.XXXXXX") || exit 2
trap 'rm -f "$args_file" "$marks"' EXIT

# Shell-like word splitting without expansion: NUL-separated words from shlex.
if ! "$python" -c 'import shlex, sys; sys.stdout.write("".join(w + "\0" for w in shlex.split(sys.argv[1])))' \
    "$args_text" > "$args_file"; then
  usage_error "input 'args' cannot be split into words (an unclosed quote?): $args_text"
fi
args=()
while IFS= read -r -d '' word; do args+=("$word"); done < "$args_file"

# The options `args` give, as pcheck's own parser reads them (short-option clusters such as -qo FILE,
# --output=x, -o=x): asked of pcheck, never matched word by word here.
if ! given=$("$python" -m pcheck.cli.argcheck ${args[@]+"${args[@]}"}); then
  usage_error "cannot read the options in input 'args': $args_text"
fi
while IFS= read -r name; do
  case $name in
    format) usage_error "give the report format with the 'format' input, not --format in 'args'" ;;
    output) usage_error "give the report path with the 'output' input, not -o/--output in 'args'" ;;
    dump) usage_error "--dump in 'args' checks nothing: the step would pass with no report" ;;
    help) usage_error "-h/--help in 'args' checks nothing: the step would pass with no report" ;;
    render_from) usage_error "--render-from in 'args' checks nothing: the step renders its own records" ;;
    changed_since) [ "$changed_only" = false ] || usage_error "give either --changed-since in 'args' or 'changed-only', not both" ;;
  esac
done <<< "$given"

# changed-only: the pull request's base, as the event names it (a commit), else its branch on origin.
check_args=()
if [ "$changed_only" = true ]; then
  base=
  if [ -n "${GITHUB_EVENT_PATH:-}" ] && [ -f "$GITHUB_EVENT_PATH" ]; then
    base=$("$python" -c 'import json, sys
try:
    sha = json.load(open(sys.argv[1], encoding="utf-8"))["pull_request"]["base"]["sha"]
except (OSError, ValueError, KeyError, TypeError):
    sha = ""
print(sha if isinstance(sha, str) else "")' "$GITHUB_EVENT_PATH")
  fi
  base_ref=${GITHUB_BASE_REF:-}
  bounded=()  # every git call bounded in time where `timeout` exists (not on macOS)
  if command -v timeout > /dev/null; then bounded=(timeout 60); fi
  if [ -n "$base" ] && ! ${bounded[@]+"${bounded[@]}"} git cat-file -e "$base^{commit}" 2>/dev/null \
      && [ -n "$base_ref" ] \
      && ${bounded[@]+"${bounded[@]}"} git rev-parse --verify --quiet "origin/$base_ref^{commit}" > /dev/null 2>&1; then
    base="origin/$base_ref"  # the base commit was not fetched, its branch was
  fi
  [ -n "$base" ] || { [ -z "$base_ref" ] || base="origin/$base_ref"; }
  if [ -n "$base" ]; then
    check_args=(--changed-since "$base")
  else
    echo "::warning title=pcheck action::changed-only: not a pull request (no base in the event): every document is checked"
  fi
fi

# Whatever pcheck, or a document it reads, prints must not act as a workflow command (::set-output,
# ::add-mask, ...): commands are off while its output goes to the log.
stop_token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
echo "::stop-commands::$stop_token"
started=${EPOCHREALTIME:-$SECONDS}
echo "pcheck check$(printf ' %q' --format jsonl --output "$records" ${check_args[@]+"${check_args[@]}"} ${args[@]+"${args[@]}"})"
"$python" -m pcheck check --format jsonl --output "$records" ${check_args[@]+"${check_args[@]}"} ${args[@]+"${args[@]}"}
code=$?
finished=${EPOCHREALTIME:-$SECONDS}
elapsed=$("$python" -c 'import sys; print(round(max(0.0, float(sys.argv[2]) - float(sys.argv[1])), 3))' \
  "${started/,/.}" "${finished/,/.}" 2>/dev/null) || elapsed=0

# The renderings of the records: the same args (the report's words and the run's policy: -v, -q,
# --accept-transient, --fail-on-blocked...), nothing checked. A usage error left no records to render.
render() {  # FORMAT OUTPUT
  "$python" -m pcheck check --render-from "$records" --render-elapsed "$elapsed" --format "$1" --output "$2" \
    ${args[@]+"${args[@]}"}
}
annotate=false
if [ "$code" != 2 ] && { [ "$code" -le 1 ] || [ -s "$records" ]; }; then
  echo "pcheck check --render-from $(printf '%q' "$records") --format $format"
  render "$format" "$report"
  render_code=$?
  if [ "$render_code" -gt 1 ]; then
    echo "pcheck: the report could not be rendered from the records (exit code $render_code)"
    [ "$code" -gt 1 ] || code=$render_code
  fi
  if [ "$annotations" = true ]; then
    if "$python" -c 'import sys; from pcheck.config import FORMATS; sys.exit("github" not in FORMATS)'; then
      echo "pcheck check --render-from $(printf '%q' "$records") --format github"
      render github "$marks"
      annotate=true
    else
      annotate=missing
    fi
  fi
fi
cat "$report"
[ -z "$(tail -c 1 "$report")" ] || echo
echo "::$stop_token::"

# The annotations, now that commands are on again: only the lines the github format writes as
# commands (each escaped by it, a line break included, so one line is one command).
errors=0
warnings=0
if [ "$annotate" = true ]; then
  grep -E '^::(error|warning|notice)( |::)' "$marks"
  errors=$(grep -cE '^::error( |::)' "$marks")
  warnings=$(grep -cE '^::warning( |::)' "$marks")
elif [ "$annotate" = missing ]; then
  echo "::notice title=pcheck action::no annotations: this pcheck has no github format (--format github); the report is in the job summary"
fi

if [ -n "$output" ]; then
  if ! { mkdir -p -- "$(dirname -- "$output")" && cp -- "$report" "$output"; }; then
    usage_error "cannot write the report to the 'output' path: $output"
  fi
  report=$output
fi

if [ "$summary" = true ] && [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  limit=1000000  # GitHub refuses a step summary over 1 MiB
  cut=false
  [ "$(wc -c < "$report")" -le "$limit" ] || cut=true
  report_head() {  # the report, or as many whole lines of it as fit under the limit
    if [ "$cut" = true ]; then head -c "$limit" -- "$report" | sed '$d'; else cat -- "$report"; fi
  }
  # The report starts on a line of its own, after a blank line, whatever an earlier step left.
  separator=
  if [ -s "$GITHUB_STEP_SUMMARY" ]; then
    separator=$'\n'
    [ -z "$(tail -c 1 "$GITHUB_STEP_SUMMARY")" ] || separator=$'\n\n'
  fi
  {
    printf '%s' "$separator"
    if [ "$format" = markdown ]; then
      report_head
    else
      fence='```'
      while grep -qF -- "$fence" "$report"; do fence="$fence\`"; done
      echo "$fence$format"
      report_head
      [ -z "$(report_head | tail -c 1)" ] || echo
      echo "$fence"
    fi
    if [ "$cut" = true ]; then
      # shellcheck disable=SC2016  # the backticks are Markdown
      printf '\n*The report is cut here: it is over %s bytes. The whole of it is at the `report` output path.*\n' "$limit"
    fi
    if [ "$errors" -gt 10 ] || [ "$warnings" -gt 10 ]; then
      printf '\n*GitHub shows at most 10 error and 10 warning annotations per step: this step made %s errors and %s warnings; every problem is in the report above.*\n' "$errors" "$warnings"
    fi
    case $code in
      0|1) ;;
      *) printf '\n**pcheck ended with exit code %s** (2: usage error or unreadable input, 3: report not written, 129 and over: ended by a signal); see the job log.\n' "$code" ;;
    esac
  } >> "$GITHUB_STEP_SUMMARY"
fi

if [ -n "${GITHUB_OUTPUT:-}" ]; then
  {
    echo "exit_code=$code"
    echo "report=$report"
    echo "records=$records"
  } >> "$GITHUB_OUTPUT"
fi

case $code in
  0) exit 0 ;;
  1)
    if [ "$fail" = true ]; then
      echo "::error title=pcheck::broken, invalid or unchecked links found (pcheck exit code 1)"
      exit 1
    fi
    echo "::warning title=pcheck::broken, invalid or unchecked links found (pcheck exit code 1); not failing: 'fail' is false"
    exit 0 ;;
  *)
    echo "::error title=pcheck::pcheck ended with exit code $code"
    exit "$code" ;;
esac
