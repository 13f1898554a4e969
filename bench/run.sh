#!/bin/sh
# run.sh - `make bench`: every bench/*.sh in turn (format, reenc, record,
# replay, csv, etl, import, stat).  Benchmarks print ratios against peers
# measured in the same run; they are not tests and assert nothing.
# Environment: HEAPTAPE, HT_BUILD, HT_PRELOAD, HT_TOP, SHARED, HT_TMP; set
# BENCH=ERE over the names (format, csv, ...) to run only some.
set -u
cd "$(dirname "$0")/.."
ht_kind=bench
. tests/env.sh
echo "heaptape bench on $(uname -n), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
for b in bench/*.sh; do
	[ "$b" = bench/run.sh ] && continue
	if [ -n "${BENCH:-}" ] &&
	   ! basename "$b" .sh | grep -Eq -- "$BENCH"; then
		continue
	fi
	echo
	echo "== $(basename "$b" .sh)"
	sh "$b" || echo "(bench $b failed with status $?)"
done
rm -rf "$HT_TMP"
