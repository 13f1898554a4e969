#!/bin/sh
# csv.sh - CSV throughput of `heaptape convert TRACE -` (rows/s, output to
# /dev/null) with one and with two jobs, on a recorded multi-million-event
# mallocstorm trace, beside babeltrace2's text output of an LTTng trace of
# the same workload (recorded as ../shared/bench/peers.py rec_lttng does),
# and the ratio (goal >= 20x).  Then bench_csv's split of one core's time
# into reading (decode + merge) and formatting.
# Environment (bench/run.sh): HEAPTAPE, HT_BUILD, SHARED, HT_TMP.
# STORM="THREADS OPS" (default "2 2000000"), REPS=N best of N (default 3).
set -u
O=${O:-build}
HT_BUILD=${HT_BUILD:-$(cd "$O" && pwd)}
HEAPTAPE=${HEAPTAPE:-$HT_BUILD/heaptape}
SHARED=${SHARED:-$(cd .. && pwd)/shared}
HT_TMP=${HT_TMP:-$(mktemp -d /tmp/heaptape-bench.XXXXXX)}
STORM=${STORM:-2 2000000}
REPS=${REPS:-3}
d=$HT_TMP/csv
mkdir -p "$d"
storm=$d/mallocstorm
gcc -O2 -pthread -o "$storm" "$SHARED/bench/mallocstorm.c" || exit 1

now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.2f", n / s / 1e6 }'; }

# heaptape: record, then convert.
rm -f "$d/storm.htape"*
"$HEAPTAPE" record -o "$d/storm.htape" -- $storm $STORM >/dev/null 2>&1
if [ ! -s "$d/storm.htape" ]; then
	echo "heaptape record failed; no csv numbers"
	exit 1
fi
events=$("$HEAPTAPE" stat --json "$d/storm.htape" |
	 python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
echo "workload: mallocstorm $STORM ($events events recorded by heaptape)"
best() { # jobs -> best seconds of REPS
	b=
	i=0
	while [ $i -lt "$REPS" ]; do
		a=$(now)
		"$HEAPTAPE" convert --no-progress -j "$1" "$d/storm.htape" - \
			>/dev/null 2>"$d/err" || { cat "$d/err"; return 1; }
		s=$(secs "$a" "$(now)")
		if [ -z "$b" ] || awk -v s="$s" -v b="$b" 'BEGIN{exit !(s < b)}'; then
			b=$s
		fi
		i=$((i + 1))
	done
	echo "$b"
}
s1=$(best 1) || exit 1
s2=$(best 2) || exit 1
r1=$(rate "$events" "$s1")
r2=$(rate "$events" "$s2")
printf 'heaptape convert -j 1   %9s rows in %7s s  %7s M rows/s\n' "$events" "$s1" "$r1"
printf 'heaptape convert -j 2   %9s rows in %7s s  %7s M rows/s\n' "$events" "$s2" "$r2"

# LTTng-UST libc wrapper + babeltrace2, as peers.py records it.
if ! command -v lttng >/dev/null || ! command -v babeltrace2 >/dev/null ||
   ! ls /usr/lib/*/liblttng-ust-libc-wrapper.so* >/dev/null 2>&1; then
	echo "babeltrace2: lttng-tools, liblttng-ust-dev or babeltrace2 missing (make bench installs them)"
	exit 0
fi
pgrep -x lttng-sessiond >/dev/null ||
	lttng-sessiond --daemonize >/dev/null 2>&1
S=htcsv$$
lt=$d/lt
rm -rf "$lt"
q() { "$@" >/dev/null 2>&1; }
q lttng create "$S" --output="$lt"
q lttng enable-event -s "$S" -u 'lttng_ust_libc:*'
q lttng add-context -s "$S" -u -t vtid
q lttng start "$S"
LD_PRELOAD=liblttng-ust-libc-wrapper.so $storm $STORM >/dev/null 2>&1
q lttng stop "$S"
q lttng destroy "$S"
a=$(now)
lines=$(babeltrace2 "$lt" 2>/dev/null | wc -l | tr -d ' ')
sb=$(secs "$a" "$(now)")
if [ "${lines:-0}" -eq 0 ]; then
	echo "babeltrace2: no events in the LTTng trace"
	exit 0
fi
rb=$(rate "$lines" "$sb")
printf 'babeltrace2 text        %9s lines in %6s s  %7s M events/s\n' "$lines" "$sb" "$rb"
awk -v a="$r1" -v b="$r2" -v c="$rb" 'BEGIN {
	printf "ratio heaptape csv / babeltrace2: %.1fx with -j 1, %.1fx with -j 2 (goal >= 20x: %s)\n",
	       a / c, b / c, (b / c >= 20 ? "met" : "NOT met")
}'
echo "one core, split (bench_csv):"
[ -x "$HT_BUILD/bench/bench_csv" ] && "$HT_BUILD/bench/bench_csv" "$d/storm.htape"
rm -rf "$lt" "$d/storm.htape"*
