#!/usr/bin/env bash
# Builds and installs the Python package into .venv (Debian's /usr/bin/python3, a virtual
# environment with the system's site-packages for Debian's NumPy; nanobind, scikit-build-core and
# pytest from PyPI, once), then runs its pytest suite. Idempotent and quiet when all is there;
# the build folder build-python/ makes a second run rebuild only what changed.
#   scripts/python.sh            build, install, test
#   scripts/python.sh --no-test  build and install only
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python=/usr/bin/python3
venv=.venv
if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' >/dev/null 2>&1; then
    echo "python.sh: $python has no venv/ensurepip (Debian: python3-venv; scripts/deps.sh installs it)" >&2
    exit 1
  fi
  "$python" -m venv --system-site-packages "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
if ! "$venv/bin/python" -c 'import nanobind, scikit_build_core, pytest, numpy' >/dev/null 2>&1; then
  echo "python.sh: installing nanobind, scikit-build-core and pytest into $venv"
  "${pip[@]}" install "nanobind>=2.0" "scikit-build-core>=0.10" pytest
fi

# No build isolation: the build uses the venv's nanobind and scikit-build-core, offline.
"${pip[@]}" install --no-build-isolation --no-deps .

if [ "${1:-}" != "--no-test" ]; then
  # From outside the checkout, so that the installed package (not python/annforge) is imported.
  cd python/tests
  "../../$venv/bin/python" -m pytest -q -p no:cacheprovider .
fi
