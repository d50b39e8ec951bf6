#!/bin/sh
# Run the unit and integration suites of one build directory.
#   run-tests.sh BUILD_DIR
set -e
build=${1:-build}
export TITAN_SUPERVISOR="$PWD/$build/titan-supervisor"
# LeakSanitizer needs ptrace-free environments; keep reports readable.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
echo "== unit tests ($build)"
"$build/test-unit" --jobs 2 --timeout 120
echo "== integration tests ($build)"
"$build/test-integration" --jobs 2 --timeout 300
echo "== shell tests ($build)"
for t in tests/sh/*.sh; do
	[ -e "$t" ] || continue
	echo "-- $t"
	rc=0
	sh "$t" "$build" || rc=$?
	# 77: the test cannot run here (automake's convention): say so
	if [ $rc -eq 77 ]; then
		echo "-- $t: SKIPPED"
	elif [ $rc -ne 0 ]; then
		exit $rc
	fi
done
echo "== browser tests ($build)"
for t in tests/browser/*.sh; do
	[ -e "$t" ] || continue
	echo "-- $t"
	sh "$t" "$build"
done
