#!/bin/sh
# run.sh - run every test and print "N passed, N failed[, N skipped]".
#
# A test is a unit binary ($O/tests/test_*), a fuzz-corpus replay
# ($O/tests/fuzz_* over tests/fuzz/corpus/NAME) or a script tests/t_*.sh.
# Each prints TAP lines: "ok N - what", "not ok N - what", and
# "ok N - what # SKIP why" (counted as skipped, never as passed).  A test
# that exits non-zero without a "not ok" line counts one failure more.
# Environment for scripts: tests/env.sh (HEAPTAPE, HT_BUILD, HT_PRELOAD,
# HT_TOP, SHARED, HT_TMP).
set -u
# A shell run in the background ignores SIGINT and SIGQUIT, and so would
# every test program: the recorder's signal tests want the defaults a
# terminal gives.
if [ -z "${HT_SIGDFL:-}" ] && env --default-signal=INT true 2>/dev/null; then
	HT_SIGDFL=1 exec env --default-signal=INT,QUIT sh "$0" "$@"
fi
cd "$(dirname "$0")/.."
ht_kind=test
. tests/env.sh
log=$HT_TMP/log
pass=0 fail=0 skip=0
only=${TESTS:-}

run_one() { # name command...
	name=$1; shift
	if [ -n "$only" ] && ! echo "$name" | grep -Eq -- "$only"; then return; fi
	out=$HT_TMP/out.$$
	"$@" >"$out" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$out" | head -1)
	s=$(grep -c '^ok .*# SKIP' "$out" | head -1)
	f=$(grep -c '^not ok ' "$out" | head -1)
	p=$((p - s))
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc" >>"$out"
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	printf '%-28s %5d passed %3d failed %3d skipped\n' "$name" "$p" "$f" "$s"
	if [ "$f" != 0 ]; then
		grep -v '^ok ' "$out" | sed 's/^/    /' | head -60
	fi
	cat "$out" >>"$log"
}

for t in "$HT_BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	run_one "$(basename "$t")" "$t"
done
for t in "$HT_BUILD"/tests/fuzz_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	run_one "$n-corpus" "$t" "tests/fuzz/corpus/$n"
done
for t in tests/t_*.sh; do
	[ -f "$t" ] || continue
	run_one "$(basename "$t" .sh)" sh "$t"
done
# the scratch files (~0.5 GB of traces) go when all passed; the log stays
if [ "$fail" = 0 ]; then
	find "$HT_TMP" -mindepth 1 -maxdepth 1 ! -name log -exec rm -rf {} +
	echo "full log: $log"
else
	echo "full log: $log (the tests' files are kept beside it)"
fi
if [ "$skip" != 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" = 0 ]
