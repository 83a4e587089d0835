#!/usr/bin/env bash
# The whole test suite, as the README and CI run it:
#   1. the C unit tests of lib/core under ASan + UBSan (meson test);
#   2. the extension built with them, under pytest (Python 3.11);
#   3. pytest, the full suite on Python 3.11 and 3.12 (the browser tests of the
#      HTML report and the web servers included), everything not marked
#      `full` on 3.9, 3.10 and 3.13.
# Ends with one line "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
log=build/test-logs
mkdir -p "$log"
passed=0
failed=0

count() { # adds pytest's or meson's summary from a log to the totals
    local p f
    p=$(grep -Eo '[0-9]+ passed' "$1" | tail -1 | grep -Eo '[0-9]+' || echo 0)
    f=$(grep -Eo '[0-9]+ (failed|error|errors)' "$1" | awk '{s+=$1} END {print s+0}')
    passed=$((passed + p)); failed=$((failed + f))
}

# What only the tests need: Chromium for tests/browser/ (driven by Playwright,
# which never downloads a browser here), Django, Flask and uvicorn (an ASGI
# server) for the middleware.
if ! [ -x /usr/bin/chromium ]; then
    echo "test: installing chromium with apt-get" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium; } >"$log/apt.log" 2>&1 \
        || { tail -n 20 "$log/apt.log"; exit 1; }
fi
export EXTRA_PIP="playwright django flask uvicorn"

# The 3.11 environment first: its meson builds the sanitizer tree below.
bash .ci/setup.sh 3.11 >"$log/setup-3.11.log" 2>&1 || { tail -n 30 "$log/setup-3.11.log"; exit 1; }
export PATH="$PWD/build/venv-3.11/bin:$PATH"

echo "== C unit tests (ASan + UBSan)"
if meson setup build/asan --reconfigure -Dbuildtype=debug -Dtests=true \
        -Db_sanitize=address,undefined -Db_lundef=false >"$log/asan-setup.log" 2>&1 \
   || meson setup build/asan -Dbuildtype=debug -Dtests=true \
        -Db_sanitize=address,undefined -Db_lundef=false >"$log/asan-setup.log" 2>&1; then
    # meson test builds only what the tests need; the extension is used below.
    ninja -C build/asan >"$log/asan-build.log" 2>&1 || { tail -n 30 "$log/asan-build.log"; failed=$((failed + 1)); }
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C build/asan --print-errorlogs >"$log/ctest.log" 2>&1
    tail -n 12 "$log/ctest.log"
    ok=$(grep -Eo '^Ok: +[0-9]+' "$log/ctest.log" | grep -Eo '[0-9]+' || echo 0)
    bad=$(grep -E '^(Fail|Timeout|Unexpected Pass): +[0-9]+' "$log/ctest.log" | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}')
    [ "$ok" -gt 0 ] || bad=$((bad + 1))
    passed=$((passed + ok)); failed=$((failed + bad))
else
    cat "$log/asan-setup.log"; failed=$((failed + 1))
fi

echo "== the extension under ASan + UBSan (pytest, Python 3.11)"
# The sanitizer build above also built _core; load it into the 3.11 venv's
# python with the runtimes preloaded. Leaks are left to LeakSanitizer on the
# C core (above) and to the start/stop RSS test in the normal runs: its RSS
# figure means nothing under ASan's quarantine, so it is deselected here.
# So are the tests that fork a process with a running timer thread: GCC 12's
# ASan runtime can deadlock in such a child (seen: the child blocked on the
# lock in __sanitizer::SizeClassAllocator64::GetFromAllocator, called from
# CPython's free). They run in every normal build below.
if ls build/asan/lib/ext/_core*.so >/dev/null 2>&1; then
    pkg=build/asan-pkg/stroboscope
    rm -rf build/asan-pkg && mkdir -p "$pkg"
    cp -r lib/stroboscope/. "$pkg"/
    rm -f "$pkg/meson.build" "$pkg/middleware/meson.build"
    cp build/asan/lib/ext/_core*.so "$pkg"/
    LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    PYTHONPATH="$PWD/build/asan-pkg" build/venv-3.11/bin/python -m pytest \
        tests/test_profiler.py tests/test_threads.py tests/test_async.py tests/test_cli.py tests/test_html.py -q -p no:cacheprovider \
        -k "not many_start_stop_cycles and not fork" >"$log/pytest-asan.log" 2>&1
    tail -n 5 "$log/pytest-asan.log"
    count "$log/pytest-asan.log"
else
    echo "could not build for the sanitizer run"; failed=$((failed + 1))
fi

for v in 3.11 3.12 3.9 3.10 3.13; do
    echo "== Python $v"
    if [ "$v" != 3.11 ] && ! bash .ci/setup.sh "$v" >"$log/setup-$v.log" 2>&1; then
        tail -n 30 "$log/setup-$v.log"; failed=$((failed + 1)); continue
    fi
    case $v in
        3.11|3.12) sel=() ;;
        *) sel=(-m "not full") ;;
    esac
    build/venv-$v/bin/python -m pytest tests -q -p no:cacheprovider "${sel[@]}" \
        >"$log/pytest-$v.log" 2>&1
    tail -n 15 "$log/pytest-$v.log"
    count "$log/pytest-$v.log"
done

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
