#!/bin/sh
# stat.sh - throughput of the commands that read a whole trace: stat
# (with and without decoding threads, and through ht_reader_next()),
# verify, cat and plot, on 10M generated events of 4 threads (every op,
# cross-thread frees, many distinct sizes).  Prints M events/s.
set -u
H=$HEAPTAPE
N=${STAT_BENCH_EVENTS:-10000000}
MK=$HT_BUILD/tests/mktrace_stat
d=$HT_TMP/stat
mkdir -p "$d"
if [ ! -x "$MK" ]; then
	make -s -C "$HT_TOP" O="$HT_BUILD" "$MK" >/dev/null 2>&1 || {
		echo "stat bench: cannot build $MK"; exit 1; }
fi
"$MK" -n "$N" -t 4 -s 1 "$d/t.htape" /dev/null || exit 1
echo "trace: $N events, $(wc -c <"$d/t.htape") bytes"

now() { date +%s.%N; }
run() { # label command...
	label=$1; shift
	t0=$(now)
	"$@" >/dev/null 2>&1
	rc=$?
	t1=$(now)
	awk -v l="$label" -v a="$t0" -v b="$t1" -v n="$N" -v rc="$rc" 'BEGIN {
		s = b - a
		printf "%-34s %7.2f s  %7.1f M events/s%s\n", l, s, n / s / 1e6,
			rc ? "  (exit " rc ")" : "" }'
}
run "stat --json (decoding threads)" "$H" stat --json "$d/t.htape"
run "stat --json --jobs 0" "$H" stat --json --jobs 0 "$d/t.htape"
run "stat --json via ht_reader_next" env HEAPTAPE_MERGE=reader \
	"$H" stat --json "$d/t.htape"
run "verify" "$H" verify "$d/t.htape"
run "cat > /dev/null" "$H" cat "$d/t.htape"
run "plot" "$H" plot "$d/t.htape" -o "$d/t.svg"
