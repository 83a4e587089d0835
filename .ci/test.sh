#!/usr/bin/env bash
# The whole test suite, as the README and CI run it:
#   1. the C unit tests of lib/core under ASan + UBSan (meson test);
#   2. pytest, the full suite on Python 3.11 and 3.12, the core and CLI tests
#      (everything not marked `full`) on 3.9, 3.10 and 3.13.
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

echo "== C unit tests (ASan + UBSan)"
if meson setup build/asan --reconfigure -Dbuildtype=debug -Dtests=true \
        -Db_sanitize=address,undefined -Db_lundef=false >"$log/asan-setup.log" 2>&1 \
   || meson setup build/asan -Dbuildtype=debug -Dtests=true \
        -Db_sanitize=address,undefined -Db_lundef=false >"$log/asan-setup.log" 2>&1; then
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

for v in 3.11 3.12 3.9 3.10 3.13; do
    echo "== Python $v"
    if ! bash .ci/setup.sh "$v" >"$log/setup-$v.log" 2>&1; then
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
