#!/usr/bin/env bash
# Installs Open WebUI, pinned, in its own virtualenv outside the repository, for the end-to-end
# test in tests/openwebui/ (`pytest -m openwebui`). It is about 3 GB with the CPU torch wheel and is
# never a dependency of the project itself. Prints the virtualenv's path; a second run reuses it.
#   OPENWEBUI_VENV   where (default ~/.cache/extractive-qa/openwebui-venv)
#   PY               the Python to create it with (default python3; Open WebUI needs 3.11 or 3.12)
set -euo pipefail
OPENWEBUI_VERSION=0.12.4
TORCH_VERSION=2.13.0  # the CPU wheel, installed first so that no CUDA build is pulled in
VENV="${OPENWEBUI_VENV:-$HOME/.cache/extractive-qa/openwebui-venv}"
STAMP="$VENV/.installed-open-webui-$OPENWEBUI_VERSION"
PY="${PY:-python3}"

quiet_pip() {  # pip's output only if it fails
  local log
  log=$(mktemp)
  if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

if [ ! -f "$STAMP" ]; then
  start=$(date +%s)
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  quiet_pip "torch==$TORCH_VERSION"
  quiet_pip "open-webui==$OPENWEBUI_VERSION"
  "$VENV/bin/open-webui" --help >/dev/null
  touch "$STAMP"
  echo "openwebui.sh: Open WebUI $OPENWEBUI_VERSION installed in $VENV in $(($(date +%s) - start)) s" >&2
fi
echo "$VENV"
