# Sourced by e2e/livekit/build.sh and e2e/hydra/build.sh (not run itself).
#
# cached_build DIR NAME MODULE PACKAGE DURATION BUILD-COMMAND...
# builds PACKAGE at the version DIR/go.mod pins for MODULE into DIR/bin/NAME
# unless that version is there already (DIR/bin/NAME.version), and prints the
# binary's path. BUILD-COMMAND runs in DIR, followed by -o <file> PACKAGE;
# DURATION is how long a cold build takes, for the one message on stderr.
cached_build() {
  local dir="$1" name="$2" module="$3" pkg="$4" duration="$5"
  shift 5
  local bin="$dir/bin/$name" want
  want="$(cd "$dir" && go list -m -f '{{.Version}}' "$module")"
  if [[ -x "$bin" && -f "$bin.version" && "$(cat "$bin.version")" == "$want" ]]; then
    echo "$bin"
    return 0
  fi
  echo "building $name $want (first time only, $duration)..." >&2
  mkdir -p "$dir/bin"
  (cd "$dir" && "$@" -o "$bin.tmp" "$pkg")
  mv "$bin.tmp" "$bin"
  echo "$want" > "$bin.version"
  echo "$bin"
}
