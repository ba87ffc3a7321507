# Shared by ./ss2d and make-bundle.sh (sourced, not run): finding a Java 25 on this machine.

# Major version of a java binary (8 for 1.8.0_x), or nothing.
java_major() {
  local v
  v="$("$1" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
  [[ -z "$v" ]] && return 0
  if [[ "$v" == 1.* ]]; then v="${v#1.}"; fi
  printf '%s\n' "${v%%[.+-]*}"
}

# Prints the home of the first JDK 25+ (with javac and jlink): JAVA_HOME if it is one, then the usual places.
find_jdk() {
  local c m candidates=()
  [[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME")
  candidates+=(/usr/lib/jvm/*25* /usr/lib/jvm/* "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/* \
               /opt/java/* /opt/jdk* /opt/*jdk* /usr/local/*jdk* /usr/java/* \
               /Library/Java/JavaVirtualMachines/*/Contents/Home)
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  for c in "${candidates[@]}"; do
    [[ -x "$c/bin/java" && -x "$c/bin/javac" && -x "$c/bin/jlink" ]] || continue
    m="$(java_major "$c/bin/java")"
    if [[ -n "$m" && "$m" -ge 25 ]]; then printf '%s\n' "$c"; return 0; fi
  done
  return 1
}
