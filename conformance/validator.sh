#!/usr/bin/env bash
# Build .venv-validator: the FinOps Foundation's focus-validator (pinned in
# conformance/requirements.txt) in its own venv, since it needs Python >= 3.12 and the
# project runs on 3.11 with numpy 2 (the validator pins numpy < 2).
#
# In practice that means Python 3.12 exactly: numpy < 2 publishes no wheels for 3.13 (1.26.4
# is the last 1.x, cp39-cp312), so on 3.13 pip would have to compile numpy 1.26 from source,
# which does not build there. 3.13 is therefore not a candidate.
#
# Idempotent: does nothing when the venv was built from the same requirements.txt.
# Exit codes: 0 ready; 3 no Python 3.12 on this machine (the conformance test skips);
# anything else: the build failed (a real error, never a skip).
#
# Finds Python in this order: $FOCUS_VALIDATOR_PYTHON, python3.12 / python3 on PATH, then
# pyenv's ${PYENV_ROOT:-~/.pyenv}/versions/3.12*/bin/python. Each candidate is
# run, not just looked up: pyenv puts shims for every version on PATH that fail unless
# that version is selected.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${FOCUS_VALIDATOR_VENV:-.venv-validator}"
REQUIREMENTS="conformance/requirements.txt"
STAMP="$VENV/.installed-stamp"

usable() { # a Python 3.12 that can make a venv
    "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != (3, 12))' \
        >/dev/null 2>&1
}

find_python() {
    local candidate
    for candidate in "${FOCUS_VALIDATOR_PYTHON:-}" python3.12 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 && usable "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    local root="${PYENV_ROOT:-$HOME/.pyenv}"
    for candidate in "$root"/versions/3.12*/bin/python; do
        if [ -x "$candidate" ] && usable "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    exit 0
fi

if ! python="$(find_python)"; then
    echo "validator.sh: no Python 3.12 found (looked on PATH and in pyenv);" \
        "the FOCUS conformance check needs one. Set FOCUS_VALIDATOR_PYTHON to use another." >&2
    exit 3
fi

echo "validator.sh: building $VENV with $python ($("$python" -V 2>&1))" >&2
start=$SECONDS
rm -rf "$VENV"
"$python" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
"$VENV/bin/python" -c 'import focus_validator.validator, pyarrow, numpy'
echo "$want" >"$STAMP"
echo "validator.sh: $VENV ready in $((SECONDS - start)) s" >&2
