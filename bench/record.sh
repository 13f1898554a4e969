#!/bin/sh
# record.sh - the recorder's cost beside its peers (heaptrack, the LTTng-UST
# libc wrapper, glibc mtrace), measured in one run by ../shared/bench/peers.py:
# wall time as a ratio to the unrecorded run and trace bytes per event, for
# storm1, storm2, python, sqlite and gcc.  Then the issue's targets beside
# our numbers, and peak RSS with and without the recorder (the recorder's
# own footprint) for storm1 and for 1000 threads.
# Environment (bench/run.sh): HEAPTAPE, HT_BUILD, HT_PRELOAD, SHARED, HT_TMP.
# REPS=N (default 3) repetitions per cell; WORK=storm1,... to run fewer.
set -u
O=${O:-build}
HT_BUILD=${HT_BUILD:-$(cd "$O" && pwd)}
HEAPTAPE=${HEAPTAPE:-$HT_BUILD/heaptape}
HT_PRELOAD=${HT_PRELOAD:-$HT_BUILD/libheaptape-record.so}
SHARED=${SHARED:-$(cd .. && pwd)/shared}
HT_TMP=${HT_TMP:-$(mktemp -d /tmp/heaptape-bench.XXXXXX)}
REPS=${REPS:-3}
d=$HT_TMP/record
mkdir -p "$d"
export PEERS_OUT="$d/peers"

echo "peers.py --reps $REPS (wall ratio to the unrecorded run; B/event of the trace)"
HEAPTAPE=$HEAPTAPE nice python3 "$SHARED/bench/peers.py" --reps "$REPS" \
	${WORK:+--work "$WORK"} | tee "$d/peers.txt"

echo
echo "heaptape against the targets (issue 3) and the best peer:"
awk '
BEGIN {
	tr["storm1"] = 1.3; tb["storm1"] = 4.5; tr["storm2"] = 1.5; tb["storm2"] = 4.5
	tr["python"] = 1.5; tb["python"] = 1.0; tr["sqlite"] = 1.5; tr["gcc"] = 1.1
}
$2 == "heaptape" { r[$1] = $4; b[$1] = $6; w[++n] = $1 }
$2 == "heaptrack" || $2 == "lttng" || $2 == "mtrace" {
	if ($4 ~ /^[0-9.]+$/ && (!($1 in best) || $4 < best[$1])) { best[$1] = $4; who[$1] = $2 }
}
END {
	for (i = 1; i <= n; i++) {
		k = w[i]
		s = sprintf("%-7s %5.2fx (target <= %.1fx: %s)", k, r[k], tr[k],
			    r[k] <= tr[k] ? "met" : "NOT met")
		if (k in tb)
			s = s sprintf("  %s B/event (target <= %.1f: %s)", b[k], tb[k],
				      b[k] + 0 <= tb[k] ? "met" : "NOT met")
		if (k in best)
			s = s sprintf("  best peer %s %.2fx", who[k], best[k])
		print s
	}
}' "$d/peers.txt"

# Peak RSS of one command (kB): bench/maxrss.c
maxrss() {
	"$HT_BUILD/bench/maxrss" "$@" 2>/dev/null | tail -1
}

echo
echo "peak RSS (kB) without / with the recorder (LD_PRELOAD, default options):"
storm=$PEERS_OUT/mallocstorm
[ -x "$storm" ] || gcc -O2 -pthread -o "$storm" "$SHARED/bench/mallocstorm.c"
threads=$HT_BUILD/tests/progs/threads
for w in "storm1:$storm 1 4000000" "threads1000:$threads 1000 200" \
	"threads1000-at-once:$threads 1000 50 1000"; do
	name=${w%%:*}
	cmd=${w#*:}
	[ -x "${cmd%% *}" ] || { echo "$name: ${cmd%% *} not built"; continue; }
	rm -f "$d/rss.htape"*
	a=$(maxrss $cmd)
	b=$(maxrss env HEAPTAPE_OUT="$d/rss.htape" LD_PRELOAD="$HT_PRELOAD" $cmd)
	echo "$name: $a / $b  (recorder +$((b - a)) kB)"
done

# CPU time is what a busy machine charges: wall ratios above depend on a
# free second core for the encoder thread, CPU ratios much less so.
echo
echo "CPU seconds (user+sys, every process; median of $REPS) without / with the recorder:"
W=$PEERS_OUT/work
PY=$(python3 -c 'import sys; print(sys.executable)')
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }
cpu() { # runs "$@" REPS times, prints the median CPU seconds
	for i in $(seq "$REPS"); do
		(cd "$W" && "$HT_BUILD/bench/maxrss" -c "$@" 2>/dev/null | tail -1)
	done | median
}
for w in "storm1:$storm 1 4000000" "storm2:$storm 2 2000000" \
	"python:env PYTHONMALLOC=malloc $PY pyjson.py" \
	"sqlite:sqlite3 :memory: .read sqlwork.sql" \
	"gcc:gcc -O2 -c bigc.c -o $d/bigc.o"; do
	name=${w%%:*}
	cmd=${w#*:}
	case $name in sqlite) set -- sqlite3 :memory: ".read sqlwork.sql" ;;
	*) set -- $cmd ;; esac
	a=$(cpu "$@")
	rm -f "$d/cpu.htape"*
	b=$(cpu env HEAPTAPE_OUT="$d/cpu.htape" LD_PRELOAD="$HT_PRELOAD" "$@")
	# the recorder's own count (recorder.cpu_ns) over every trace
	enc=$(for f in "$d/cpu.htape"*; do
		"$HEAPTAPE" stat --json "$f" 2>/dev/null | tr -d '",' |
			awk '$1 == "events:" { e = $2 }
			     $1 == "recorder.cpu_ns:" { c = $2 }
			     END { print e + 0, c + 0 }'
	done | awk '{ e += $1; c += $2 }
		END { if (e) printf "%.1f", c / e }')
	rm -f "$d/cpu.htape"*
	echo "$name: $a / $b s  (x$(ratio "$a" "$b")); encoding ${enc:-?} ns/event (recorder.cpu_ns)"
done

# --latency times every call: one more clock read a call on the program's
# thread and a second record; the same CPU measure, plain recording
# beside it, and what it does to the trace's size.
echo
echo "record --latency: CPU seconds (median of $REPS) without / recorded / recorded with --latency:"
bpe() { # bytes/event over every trace of one recorded run of "$@"
	rm -f "$d/lat.htape"*
	(cd "$W" && env HEAPTAPE_OUT="$d/lat.htape" LD_PRELOAD="$HT_PRELOAD" \
		"$@" >/dev/null 2>&1)
	for f in "$d/lat.htape"*; do
		"$HEAPTAPE" stat --json "$f" 2>/dev/null | tr -d '",' |
			awk '$1 == "events:" { e = $2 }
			     $1 == "file_bytes:" { b = $2 } END { print e + 0, b + 0 }'
	done | awk '{ e += $1; b += $2 } END { if (e) printf "%.3f", b / e }'
	rm -f "$d/lat.htape"*
}
for w in "storm1:$storm 1 4000000" \
	"python:env PYTHONMALLOC=malloc $PY pyjson.py"; do
	name=${w%%:*}
	set -- ${w#*:}
	a=$(cpu "$@")
	b=$(cpu env HEAPTAPE_OUT="$d/lat.htape" LD_PRELOAD="$HT_PRELOAD" "$@")
	rm -f "$d/lat.htape"*
	c=$(cpu env HEAPTAPE_OUT="$d/lat.htape" HEAPTAPE_LATENCY=1 \
		LD_PRELOAD="$HT_PRELOAD" "$@")
	b0=$(bpe "$@")
	b1=$(bpe env HEAPTAPE_LATENCY=1 "$@")
	echo "$name: $a / $b / $c s  (x$(ratio "$a" "$b") / x$(ratio "$a" "$c")); $b0 / $b1 bytes/event"
done

# A busy process that forks: the fork must not wait for the encoder.
echo
mtf=$HT_BUILD/tests/progs/mtfork
if [ -x "$mtf" ]; then
	wall() { # median wall seconds of REPS runs of "$@"
		for i in $(seq "$REPS"); do
			s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
			echo $((e - s))
		done | median | awk '{ printf "%.3f", $1 / 1e9 }'
	}
	a=$(wall "$mtf" 200)
	b=$(wall env HEAPTAPE_OUT="$d/mtf.htape" LD_PRELOAD="$HT_PRELOAD" "$mtf" 200)
	rm -f "$d/mtf.htape"*
	echo "200 forks while 3 threads malloc (wall s): $a / $b  (x$(ratio "$a" "$b"))"
fi

# Every traced process pays the recorder's start and exit (the library's
# load, its constructor, the encoder thread, the trace file, the final
# flush): a shell loop of 100 short processes shows that fixed cost.
echo
echo "per-process cost: sh loop of 100 /bin/true (wall ms, best of $REPS) without / with the recorder:"
wall_ms() { # best wall ms of REPS runs of "$@"
	for i in $(seq "$REPS"); do
		rm -f "$d/pp.htape"*
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1
		e=$(date +%s%N)
		echo $(((e - s) / 1000000))
	done | sort -n | head -1
}
loop='for i in $(seq 100); do /bin/true; done'
a=$(wall_ms sh -c "$loop")
b=$(wall_ms env HEAPTAPE_OUT="$d/pp.htape.%p" LD_PRELOAD="$HT_PRELOAD" sh -c "$loop")
rm -f "$d/pp.htape"*
echo "100 processes: $a / $b ms  (+$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (b - a) / 100 }') ms a process)"
