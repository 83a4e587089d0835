#!/usr/bin/env bash
# Installs what stroboscope needs to build, then builds it into a virtual
# environment per Python version: build/venv-3.X. Idempotent; safe to re-run.
#
#   .ci/setup.sh            build for python3 (the default 3.11) only
#   .ci/setup.sh 3.9 3.12   build for these versions (pyenv installs)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

need_apt=()
for pkg in libjansson-dev pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing ${need_apt[*]} with apt-get" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python_for() {
    # "3.11" -> the pyenv interpreter for it (or python3 when none is asked).
    local v=$1
    if [ "$v" = default ]; then command -v python3; return; fi
    local p
    p=$(ls -d /root/.pyenv/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -V | tail -1 || true)
    [ -n "$p" ] || p=$(command -v "python$v" || true)
    [ -n "$p" ] || { echo "setup: no Python $v found" >&2; return 1; }
    echo "$p"
}

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(default)
for v in "${versions[@]}"; do
    py=$(python_for "$v")
    tag=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    venv="build/venv-$tag"
    [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        'meson-python>=0.15' 'meson>=1.1' ninja 'pytest>=7' pyinstrument ${EXTRA_PIP:-} 2>&1 | grep -vE "^\[notice\]|WARNING: Location|WARNING: Running pip" || true
    # No build isolation: the build tools were just installed in the venv.
    "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        --no-build-isolation --force-reinstall --no-deps . 2>&1 | grep -vE "^\[notice\]|WARNING: Location|WARNING: Running pip" || true
    "$venv/bin/python" -c 'import stroboscope' || { echo "setup: build for $tag failed" >&2; exit 1; }
    echo "setup: stroboscope built for Python $tag in $venv" >&2
    # build/venv: the environment for the default python3, for the README.
    if [ "$v" = default ]; then ln -sfn "venv-$tag" build/venv; fi
done
