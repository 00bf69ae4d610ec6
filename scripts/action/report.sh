#!/usr/bin/env bash
# The script part of rotplan's GitHub action (action.yml at the root of the
# repository): run rotplan plan -markdown -detailed-exitcode and report it.
#
#   REPORT=comment  on a pull request, one sticky comment, created once and
#                   updated in place on every later run;
#   REPORT=issue    one open issue (label rotplan), opened when work is
#                   pending and updated while it stays open;
#   REPORT=none     only the step summary and outputs.
#
# It exits with plan's detailed exit code: 0 nothing to do, 1 error, 2 work
# pending. It reads these variables, which GitHub sets for a step:
#   GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_EVENT_PATH, GITHUB_OUTPUT,
#   GITHUB_STEP_SUMMARY, GITHUB_SERVER_URL, GITHUB_RUN_ID
# and from the action's inputs:
#   GITHUB_TOKEN, WORKING_DIRECTORY, PLAN_ARGS (extra plan options, split on
#   spaces), REPORT, ROTPLAN (the binary; default rotplan on PATH).
# It needs bash, curl and jq, which GitHub's runners have.
set -uo pipefail

rotplan=${ROTPLAN:-rotplan}
dir=${WORKING_DIRECTORY:-.}
report=${REPORT:-comment}
api=${GITHUB_API_URL:-https://api.github.com}
repo=${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set}
marker="<!-- rotplan-plan: ${dir} -->"
export ROTPLAN_MARKER="$marker" # for jq, as env.ROTPLAN_MARKER

# The plan. Its stderr (diagnostics, errors) goes into the report too: it
# never holds a secret value.
out=$(mktemp)
err=$(mktemp)
body=$(mktemp)
trap 'rm -f "$out" "$err" "$body"' EXIT
# shellcheck disable=SC2086 # PLAN_ARGS is split on purpose
"$rotplan" -chdir="$dir" plan -markdown -detailed-exitcode ${PLAN_ARGS:-} >"$out" 2>"$err"
code=$?

case $code in
0) headline="rotplan: nothing to do in \`$dir\`." ;;
2) headline="rotplan: work pending in \`$dir\`." ;;
*) headline="rotplan: the plan of \`$dir\` failed (exit $code)." ;;
esac
{
  echo "$marker"
  echo "### $headline"
  echo
  cat "$out"
  if [ -s "$err" ]; then
    echo
    echo '<details><summary>Diagnostics</summary>'
    echo
    echo '```'
    cat "$err"
    echo '```'
    echo '</details>'
  fi
  if [ -n "${GITHUB_RUN_ID:-}" ]; then
    echo
    echo "<sub>[Workflow run](${GITHUB_SERVER_URL:-https://github.com}/${repo}/actions/runs/${GITHUB_RUN_ID})</sub>"
  fi
} >"$body"

[ -n "${GITHUB_STEP_SUMMARY:-}" ] && cat "$body" >>"$GITHUB_STEP_SUMMARY"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "exitcode=$code" >>"$GITHUB_OUTPUT"
  if [ "$code" = 2 ]; then echo "has-changes=true"; else echo "has-changes=false"; fi >>"$GITHUB_OUTPUT"
fi

# github METHOD PATH [JSON]: one API call; prints the response body, fails
# on an HTTP error.
github() {
  local args=(-sS --fail-with-body -X "$1" -H "Accept: application/vnd.github+json"
    -H "Authorization: Bearer ${GITHUB_TOKEN:?GITHUB_TOKEN is not set}"
    -H "X-GitHub-Api-Version: 2022-11-28")
  [ $# -ge 3 ] && args+=(-H "Content-Type: application/json" --data-binary "$3")
  curl "${args[@]}" "$api$2"
}

# find PATH JQ FIELD: FIELD of the first item, across every page, that JQ
# keeps; nothing when none does.
find() {
  local page=1 items id
  while :; do
    items=$(github GET "$1$(case $1 in *\?*) echo '&' ;; *) echo '?' ;; esac)per_page=100&page=$page") || return 1
    id=$(jq -r "[.[] | select($2)][0].$3 // empty" <<<"$items")
    if [ -n "$id" ]; then echo "$id"; return 0; fi
    [ "$(jq length <<<"$items")" -lt 100 ] && return 0
    page=$((page + 1))
  done
}

payload=$(jq -n --rawfile b "$body" '{body: $b}')
case $report in
comment)
  pr=$(jq -r '.pull_request.number // .issue.number // empty' "${GITHUB_EVENT_PATH:-/dev/null}" 2>/dev/null)
  if [ -z "$pr" ]; then
    echo "rotplan action: not a pull request event; no comment posted." >&2
  else
    id=$(find "/repos/$repo/issues/$pr/comments" ".body // \"\" | startswith(env.ROTPLAN_MARKER)" id) || exit 1
    if [ -n "$id" ]; then
      github PATCH "/repos/$repo/issues/comments/$id" "$payload" >/dev/null || exit 1
      echo "rotplan action: updated the plan comment on #$pr."
    else
      github POST "/repos/$repo/issues/$pr/comments" "$payload" >/dev/null || exit 1
      echo "rotplan action: commented the plan on #$pr."
    fi
  fi
  ;;
issue)
  number=$(find "/repos/$repo/issues?state=open&labels=rotplan" "(.pull_request | not) and (.body // \"\" | startswith(env.ROTPLAN_MARKER))" number) || exit 1
  if [ "$code" = 0 ]; then
    echo "rotplan action: nothing to do; no issue opened."
  elif [ -n "$number" ]; then
    github PATCH "/repos/$repo/issues/$number" "$payload" >/dev/null || exit 1
    echo "rotplan action: updated issue #$number."
  else
    title="rotplan: secrets to rotate in $dir"
    [ "$code" != 2 ] && title="rotplan: the plan of $dir fails"
    github POST "/repos/$repo/issues" "$(jq -n --rawfile b "$body" --arg t "$title" '{title: $t, body: $b, labels: ["rotplan"]}')" >/dev/null || exit 1
    echo "rotplan action: opened an issue."
  fi
  ;;
none) ;;
*)
  echo "rotplan action: unknown report \"$report\": choose comment, issue or none." >&2
  exit 1
  ;;
esac
exit "$code"
