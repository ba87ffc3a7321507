#!/usr/bin/env bash
# The Python package's pytest suite against this build's engine (called by `./mvnw verify` through pom.xml):
#   run-tests.sh CLASSPATH_FILE "JVM FLAGS" SKIP_TESTS [pytest arguments...]
# Skips, saying why, when python3 (or $SS2D_PYTHON), numpy or pytest is missing, or no JDK 25 is found.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
CP_FILE="$1"; FLAGS="$2"; SKIP="${3:-false}"; shift 3 || true
say() { printf '[ss2d python] %s\n' "$*"; }

if [[ "$SKIP" == "true" ]]; then say "skipped (-DskipTests)"; exit 0; fi
PY="${SS2D_PYTHON:-python3}"
if ! command -v "$PY" >/dev/null 2>&1; then
  say "SKIPPED: no $PY on the PATH, so the Python package's tests did not run (set SS2D_PYTHON to a Python 3)"; exit 0
fi
if ! missing="$("$PY" -c 'import importlib.util as u; print(" ".join(m for m in ("numpy", "pytest") if u.find_spec(m) is None))')"; then
  say "SKIPPED: $PY does not run"; exit 0
fi
if [[ -n "$missing" ]]; then
  say "SKIPPED: $PY has no ${missing} (pip install numpy pytest pyarrow safetensors torch), so the Python package's tests did not run"; exit 0
fi
source "$ROOT/cli/src/dist/jdk.sh"
JDK="$(find_jdk || true)"
if [[ -z "$JDK" ]]; then say "SKIPPED: no JDK 25 found for the engine"; exit 0; fi

read -r -a flags <<<"$FLAGS"
SS2D_ENGINE="$("$PY" -c 'import shlex, sys; print(shlex.join(sys.argv[1:]))' \
  "$JDK/bin/java" "${flags[@]}" -cp "$(cat "$CP_FILE")" org.ss2d.cli.Main)"
export SS2D_ENGINE PYTHONDONTWRITEBYTECODE=1
unset SS2D_SOCKET   # the suite starts an engine of its own in a private folder
cd "$HERE" && exec "$PY" -m pytest -q -p no:cacheprovider -rs tests "$@"
