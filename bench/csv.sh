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

# tm CMD...: "WALL CPU LINES" of CMD (CPU = user + system of CMD and its
# threads).  Standard output goes to /dev/null, or with COUNT=1 through a
# pipe whose newlines are counted (LINES).  Both times are printed because
# this box is often shared: CPU time moves less with the load.
tm() {
	python3 -c '
import os, resource, subprocess, sys, time
count = os.environ.get("COUNT") == "1"
r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
t = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stderr=subprocess.DEVNULL,
                     stdout=subprocess.PIPE if count else subprocess.DEVNULL)
n = 0
while count:
    b = p.stdout.read(1 << 20)
    if not b:
        break
    n += b.count(b"\n")
rc = p.wait()
w = time.perf_counter() - t
r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
c = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
print("%.3f %.3f %d" % (w, c, n))
sys.exit(rc)' "$@"
}
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
best() { # jobs -> "WALL CPU" best of REPS (by wall time)
	b=
	i=0
	while [ $i -lt "$REPS" ]; do
		x=$(tm "$HEAPTAPE" convert --no-progress -j "$1" \
			"$d/storm.htape" -) || return 1
		if [ -z "$b" ] || awk -v s="${x%% *}" -v b="${b%% *}" \
			'BEGIN{exit !(s < b)}'; then
			b=$x
		fi
		i=$((i + 1))
	done
	echo "$b"
}
x1=$(best 1) || exit 1
x2=$(best 2) || exit 1
set -- $x1
s1=$1 c1=$2
set -- $x2
s2=$1 c2=$2
r1=$(rate "$events" "$s1")
r2=$(rate "$events" "$s2")
rc1=$(rate "$events" "$c1")
printf 'heaptape convert -j 1   %9s rows in %7s s  %7s M rows/s  (cpu %s s: %s M rows/s per core)\n' \
	"$events" "$s1" "$r1" "$c1" "$rc1"
printf 'heaptape convert -j 2   %9s rows in %7s s  %7s M rows/s  (cpu %s s)\n' \
	"$events" "$s2" "$r2" "$c2"

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
x=$(export COUNT=1; tm babeltrace2 "$lt")
set -- $x
sb=$1 cb=$2 lines=$3
if [ "${lines:-0}" -eq 0 ]; then
	echo "babeltrace2: no events in the LTTng trace"
	exit 0
fi
rb=$(rate "$lines" "$sb")
rcb=$(rate "$lines" "$cb")
printf 'babeltrace2 text        %9s lines in %6s s  %7s M events/s  (cpu %s s: %s M events/s)\n' \
	"$lines" "$sb" "$rb" "$cb" "$rcb"
awk -v a="$r1" -v b="$r2" -v c="$rb" -v ca="$rc1" -v cc="$rcb" 'BEGIN {
	m = a > b ? a : b
	printf "ratio heaptape csv / babeltrace2: %.1fx with -j 1, %.1fx with -j 2 (goal >= 20x: %s); per core of cpu time %.1fx\n",
	       a / c, b / c, (m / c >= 20 ? "met" : "NOT met"), ca / cc
}'
echo "one core, split (bench_csv):"
[ -x "$HT_BUILD/bench/bench_csv" ] && "$HT_BUILD/bench/bench_csv" "$d/storm.htape"
rm -rf "$lt" "$d/storm.htape"*
