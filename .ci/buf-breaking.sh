#!/usr/bin/env bash
# `make breaking`: fails when proto/ changed in a wire- or source-incompatible
# way (buf breaking, the FILE rules of buf.yaml) since the comparison base.
#
# The base, the first of these that applies:
#   1. $BUF_BREAKING_AGAINST, any git ref (e.g. a release to compare with);
#   2. the newest tag v* reachable from HEAD: the last release;
#   3. the merge base of HEAD with origin/main (or main when there is no
#      origin), when HEAD is not already on it: a branch is checked against
#      where it left main;
#   4. on main itself (a CI run of main, a fresh clone with only main): the
#      first parent of the newest commit on main's first-parent line that
#      changed proto/, so the last change to the contract is checked against
#      what came before it (a merged branch counts as one change: its own
#      intermediate commits are not releases);
#   5. no such history (a depth-1 clone, proto/ never changed): skipped,
#      saying so (`git fetch --unshallow` gives the history).
#
# A reviewed, deliberate break goes through with a trailer in the message of
# a commit between the base and HEAD that changes proto/:
#     Buf-Breaking: <why, who reviewed it>
# buf's findings are then printed but do not fail. Cut a release tag after
# such a change so that later changes are compared with the new contract.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
buf="${BUF:-web-client/node_modules/.bin/buf}"

has() { git rev-parse -q --verify "$1^{commit}" >/dev/null 2>&1; }
base="" why=""
if [[ -n "${BUF_BREAKING_AGAINST:-}" ]]; then
  base="$BUF_BREAKING_AGAINST" why="BUF_BREAKING_AGAINST"
elif tag="$(git describe --tags --abbrev=0 --match 'v*' HEAD 2>/dev/null)"; then
  base="$tag" why="the last release tag"
else
  main=""
  if has origin/main; then main=origin/main; elif has main; then main=main; fi
  if [[ -n "$main" ]]; then
    mb="$(git merge-base HEAD "$main" 2>/dev/null || true)"
    if [[ -n "$mb" && "$mb" != "$(git rev-parse HEAD)" ]]; then
      base="$mb" why="the merge base with $main"
    fi
  fi
  if [[ -z "$base" ]]; then
    last="$(git log -1 --first-parent --format=%H -- proto 2>/dev/null || true)"
    if [[ -n "$last" ]] && has "$last^"; then
      base="$last^" why="the first parent of the last commit on main's first-parent line that changed proto/"
    fi
  fi
fi
if [[ -z "$base" ]]; then
  echo "breaking: SKIPPED: no release tag, no main to compare with and no earlier proto/ history (shallow clone? git fetch --unshallow)" >&2
  exit 0
fi
has "$base" || { echo "breaking: base $base ($why) is not a commit here" >&2; exit 1; }
echo "breaking: proto/ against $(git rev-parse --short "$base") ($why)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The base's proto/ and buf.yaml, with today's copy of protovalidate's schema
# (git-ignored, filled by make proto-deps).
git archive "$base" proto $(git cat-file -e "$base:buf.yaml" 2>/dev/null && echo buf.yaml) | tar -x -C "$tmp"
[[ -f "$tmp/buf.yaml" ]] || cp buf.yaml "$tmp/"
mkdir -p "$tmp/.buf-deps" && cp -R .buf-deps/. "$tmp/.buf-deps/"

rc=0
out="$("$buf" breaking proto --against "$tmp/proto" 2>&1)" || rc=$?
if [[ $rc == 0 ]]; then
  echo "breaking: no breaking change"
  exit 0
fi
echo "$out"
# buf exits 100 for findings; anything else is buf failing to run.
[[ $rc == 100 ]] || { echo "breaking: buf breaking failed to run (exit $rc)" >&2; exit 1; }
reviewed="$(git log --format='%h %(trailers:key=Buf-Breaking,valueonly,separator=%x2C )' "$base"..HEAD -- proto | awk 'NF > 1')"
if [[ -n "$reviewed" ]]; then
  echo "breaking: the changes above are let through by a reviewed Buf-Breaking trailer:"
  echo "$reviewed" | sed 's/^/  /'
  exit 0
fi
echo "breaking: proto/ changed incompatibly since $(git rev-parse --short "$base") ($why)." >&2
echo "  If the break is deliberate and reviewed, say so in the commit that changes proto/ with a trailer" >&2
echo "  'Buf-Breaking: <why, reviewed by>'; otherwise keep the old fields (reserve, add new ones)." >&2
exit 1
