#!/bin/sh
# t_lttng.sh - the LTTng-UST libc-wrapper importer (convert/lttng.c,
# convert/lttng_read.c) on real traces: the committed session
# tests/data/lttng-kinds (tests/progs/lttng_kinds under the wrapper, small
# buffers, so that LTTng discarded events), and, where lttng-sessiond can
# run, traces recorded here of python3, a producer/consumer program, two
# processes at once and a session without vtid.  The reference is
# babeltrace2's own text output, parsed by tests/tools/lttng_check.py:
# events per op, each thread's sequence of (time, op, pointers, sizes,
# result), the discarded-event warnings.  Damaged copies of the trace must
# give one line of error, exit 1 and no output.
set -u
T=$HT_TMP/lttng
mkdir -p "$T"
CHK="python3 $HT_TOP/tests/tools/lttng_check.py"
DATA=$HT_TOP/tests/data/lttng-kinds
KINDS=$HT_BUILD/tests/progs/lttng_kinds
. tests/import_tap.sh
# rejected RC ERRFILE PATTERN OUT: exit 1, one line naming the problem,
# no output (not even a temporary file).
rejected() {
	[ "$1" = 1 ] && [ "$(wc -l <"$2")" = 1 ] && grep -q -- "$3" "$2" &&
		! [ -e "$4" ] && ! ls "$4".* >/dev/null 2>&1
}
# same TRACE_DIR HTAPE [PID]: the imported trace (as CSV) equals the
# babeltrace2 text of the trace, thread by thread.
same() {
	"$HEAPTAPE" convert "$2" "$2.csv" 2>>"$T/err" &&
		$CHK compare "$T/bt.$(basename "$1")" "$2.csv" \
			"$(meta clock.origin_ticks "$2")" ${3:-} \
			>"$2.cmp" 2>&1
}
# calls TRACE: the events replay runs (it leaves out the failed calls)
calls() {
	"$HEAPTAPE" stat --json "$1" | python3 -c 'import json, sys
d = json.load(sys.stdin); print(d["events"] - d["failed_calls"])'
}
# btext DIR: babeltrace2's text of DIR in $T/bt.NAME (warnings in .err).
btext() {
	babeltrace2 --clock-seconds "$1" >"$T/bt.$(basename "$1")" \
		2>"$T/bt.$(basename "$1").err"
}

if ! command -v babeltrace2 >/dev/null; then
	skip "LTTng import tests" "no babeltrace2 (Debian babeltrace2)"
	exit 0
fi

# --- the committed trace -------------------------------------------------
"$HEAPTAPE" convert "$DATA" "$T/k.htape" >"$T/k.out" 2>"$T/k.err"
rc=$?
check "committed session dir converts without --from (detected), one \
process so one output, the discarded events said on stderr" \
	eval '[ $rc = 0 ] && [ -s "$T/k.htape" ] && [ ! -s "$T/k.out" ] &&
	      ! ls "$T"/k.*.htape >/dev/null 2>&1 &&
	      grep -q "LTTng discarded [1-9][0-9]* events" "$T/k.err"'
btext "$DATA"
same "$DATA" "$T/k.htape"
check "committed trace = babeltrace2's text: $(head -1 "$T/k.htape.cmp" \
2>/dev/null) (per op, per thread, times, failed calls)" \
	eval '! grep -q MISMATCH "$T/k.htape.cmp" &&
	      grep -q "[1-9][0-9]* events, 3 threads, [5-9] failed calls" \
		"$T/k.htape.cmp"'
grep MISMATCH "$T/k.htape.cmp" | head -3 | sed 's/^/# /'
$CHK losses "$T/bt.lttng-kinds.err" >"$T/k.loss.want"
"$DUMP" loss "$T/k.htape" | awk '{print $1, $2, $5}' >"$T/k.loss.got"
check "discarded events: loss records (from, to, count) = babeltrace2's \
warnings ($(tr '\n' ' ' <"$T/k.loss.want"))" \
	eval '[ -s "$T/k.loss.want" ] && cmp -s "$T/k.loss.want" "$T/k.loss.got" &&
	      [ "$("$DUMP" loss "$T/k.htape" | awk "{print \$6}" | sort -u)" = 4 ]'
kpid=$($CHK pids "$T/bt.lttng-kinds")
check "metadata: source lttng, pid $kpid and procname from the contexts, \
threads, discarded count" \
	[ "$(meta trace.source "$T/k.htape")" = lttng -a \
	  "$(meta process.pid "$T/k.htape")" = "$kpid" -a \
	  "$(meta process.exe "$T/k.htape")" = lttng_kinds -a \
	  "$(meta trace.has_tid "$T/k.htape")" = 1 -a \
	  "$(meta import.threads "$T/k.htape")" = 3 -a \
	  "$(meta lttng.events_discarded "$T/k.htape")" = \
	  "$(awk '{s += $3} END {print s}' "$T/k.loss.want")" ]
"$HEAPTAPE" verify "$T/k.htape" >"$T/k.verify" 2>&1
check "heaptape verify: the import is a complete, valid trace" \
	eval '[ $? = 0 ] && grep -q ": ok, " "$T/k.verify"'
ev=$(calls "$T/k.htape")
"$HEAPTAPE" replay -a glibc "$T/k.htape" >"$T/k.replay" 2>&1
rc=$?
check "replay -a glibc of the committed import (its $ev calls that did \
not fail)" \
	eval '[ $rc = 0 ] && grep -q "^replay of .*: $ev events" "$T/k.replay"'
# The trace directory itself (the one holding 'metadata'), forced.
tdir=$(dirname "$(find "$DATA" -name metadata | head -1)")
"$HEAPTAPE" convert --from lttng "$tdir" "$T/k2.htape" 2>>"$T/err" &&
	"$HEAPTAPE" convert "$T/k2.htape" "$T/k2.csv" 2>>"$T/err"
check "--from lttng on the trace directory itself: the same CSV" \
	cmp -s "$T/k.htape.csv" "$T/k2.csv"
# Filters count from the first event; --pid of another process.
tid=$(awk -F, 'NR > 1 && $3 != $2 {print $3; exit}' "$T/k.htape.csv")
"$HEAPTAPE" convert --tid "$tid" "$DATA" "$T/kt.htape" 2>>"$T/err"
check "--tid $tid keeps that thread's events only" \
	[ "$(meta import.events "$T/kt.htape")" = \
	  "$(awk -F, -v t="$tid" '$3 == t' "$T/k.htape.csv" | wc -l)" ]
"$HEAPTAPE" convert --pid 1 "$DATA" "$T/kp.htape" 2>"$T/kp.err"
check "--pid of a process not in the trace: an empty trace and a warning" \
	eval '[ $? = 0 ] && [ "$(meta import.events "$T/kp.htape")" = 0 ] &&
	      grep -q "no events of pid 1" "$T/kp.err"'

# --- damaged copies ------------------------------------------------------
damage() { # NAME: a fresh copy of the trace in $T/NAME, prints its dir
	rm -rf "${T:?}/$1"
	cp -r "$DATA" "$T/$1"
	dirname "$(find "$T/$1" -name metadata | head -1)"
}
d=$(damage cut)
s=$(ls -S "$d" | grep -v -e metadata -e index | head -1)
truncate -s 5000 "$d/$s"
"$HEAPTAPE" convert "$T/cut" "$T/cut.htape" 2>"$T/cut.err"
check "stream file cut at byte 5000 -> exit 1, one line naming the file, \
no output" rejected $? "$T/cut.err" \
	"'$T/cut': cannot read LTTng trace: babeltrace2: .*$s" "$T/cut.htape"
d=$(damage flip)
printf '\377\377\377\377' | dd of="$d/metadata" bs=1 seek=300 conv=notrunc \
	2>/dev/null
"$HEAPTAPE" convert "$T/flip" "$T/flip.htape" 2>"$T/flip.err"
check "metadata bytes flipped -> exit 1, one line, no output" \
	rejected $? "$T/flip.err" "'$T/flip': cannot read LTTng trace: " \
	"$T/flip.htape"
d=$(damage magic)
printf 'XXXX' | dd of="$d/$s" bs=1 conv=notrunc 2>/dev/null
"$HEAPTAPE" convert "$T/magic" "$T/magic.htape" 2>"$T/magic.err"
check "stream file with a bad packet magic -> exit 1, one line, no output" \
	rejected $? "$T/magic.err" "cannot read LTTng trace: .*magic" \
	"$T/magic.htape"
d=$(damage empty)
: >"$d/metadata"
"$HEAPTAPE" convert "$T/empty" "$T/empty.htape" 2>"$T/empty.err"
check "empty metadata -> exit 1, one line, no output" \
	rejected $? "$T/empty.err" "cannot read LTTng trace: " "$T/empty.htape"
# libbabeltrace2 2.0 reads a metadata file cut inside a packet for ever.
d=$(damage hang)
head -c 3000 "$DATA/${d#"$T/hang/"}/metadata" >"$d/metadata"
HEAPTAPE_LTTNG_TIMEOUT=2 timeout 60 "$HEAPTAPE" convert "$T/hang" \
	"$T/hang.htape" 2>"$T/hang.err"
check "metadata cut inside a packet (babeltrace2 loops): stopped after \
HEAPTAPE_LTTNG_TIMEOUT=2 s, exit 1, one line, no output" \
	rejected $? "$T/hang.err" "made no progress for 2 s" "$T/hang.htape"
# A crash of the reader: SIGABRT to the child while it loops (an abort,
# as glib's; not SIGSEGV, which the sanitizers of `make asan` catch).
HEAPTAPE_LTTNG_TIMEOUT=60 "$HEAPTAPE" convert "$T/hang" "$T/crash.htape" \
	2>"$T/crash.err" &
cvt=$!
kid=
for i in $(seq 50); do
	kid=$(pgrep -P "$cvt" | head -1)
	[ -n "$kid" ] && break
	sleep 0.1
done
sleep 0.3
[ -n "$kid" ] && kill -ABRT "$kid"
wait "$cvt"
check "the reader dies of SIGABRT -> 'babeltrace2 crashed (signal 6)', \
exit 1, one line, no output" \
	rejected $? "$T/crash.err" "cannot read LTTng trace: babeltrace2 \
crashed (signal 6)" "$T/crash.htape"
mkdir -p "$T/none/sub"
"$HEAPTAPE" convert --from lttng "$T/none" "$T/none.htape" 2>"$T/none.err"
check "a directory without a CTF trace, --from lttng -> exit 1, no output" \
	rejected $? "$T/none.err" "no CTF trace" "$T/none.htape"
"$HEAPTAPE" convert "$T/none" "$T/none.htape" 2>"$T/none2.err"
check "... and without --from it is not taken for a trace" \
	rejected $? "$T/none2.err" "unknown input format" "$T/none.htape"

# --- live recordings -----------------------------------------------------
WRAP=$(ls /usr/lib/*/liblttng-ust-libc-wrapper.so.1 2>/dev/null | head -1)
started=
why=
if ! command -v lttng >/dev/null || [ -z "$WRAP" ]; then
	why="no lttng or liblttng-ust-libc-wrapper.so.1 (lttng-tools, \
liblttng-ust1)"
elif ! lttng list >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		why="no lttng-sessiond running and not root to start one"
	elif ! pgrep -x lttng-sessiond >/dev/null &&
	     lttng-sessiond --daemonize >/dev/null 2>&1; then
		started=$(pgrep -x -o lttng-sessiond)
		lttng list >/dev/null 2>&1 || why="lttng-sessiond did not start"
	else
		why="lttng-sessiond cannot run here"
	fi
fi
if [ -n "$why" ]; then
	skip "live LTTng recordings (python3, prodcons, two processes, no \
vtid, heaptape record comparison)" "$why"
	echo "# stderr of the conversions:"
	sed 's/^/# /' "$T/err" | head -20
	exit 0
fi
SES=ht-lt-$$
nses=0
# rec OUT CTX CHANNEL_OPTS TRACK PROG ARGS: records PROG under the wrapper
# in a session of our own; TRACK=1 records that process only.  Sets $rpid.
rec() {
	o=$1 ctx=$2 copts=$3 track=$4
	shift 4
	nses=$((nses + 1))
	s=$SES-$nses
	rm -rf "$o"
	lttng create "$s" --output="$o" >/dev/null &&
	lttng enable-channel -s "$s" -u $copts ch >/dev/null &&
	lttng enable-event -s "$s" -u -c ch 'lttng_ust_libc:*' >/dev/null &&
	lttng add-context -s "$s" -u -c ch $ctx >/dev/null || return 1
	# stopped before exec: its pid is known before it runs
	sh -c 'kill -STOP $$; exec env LD_PRELOAD="$0" "$@"' "$WRAP" "$@" \
		>/dev/null &
	rpid=$!
	for i in $(seq 100); do
		case $(ps -o stat= -p "$rpid") in T*) break ;; esac
		sleep 0.05
	done
	[ "$track" = 1 ] && lttng track -s "$s" -u --vpid "$rpid" >/dev/null
	lttng start "$s" >/dev/null
	kill -CONT "$rpid"
	wait "$rpid"
	lttng stop "$s" >/dev/null
	lttng destroy "$s" >/dev/null
}

# python3 with threads, and the producer/consumer program.
PY=$(python3 -c 'import sys; print(sys.executable)')
rec "$T/py" "-t vtid -t vpid" "" 1 "$PY" "$HT_TOP/tests/tools/pythreads.py" 3000
pypid=$rpid
rec "$T/pc" "-t vtid -t vpid" "" 1 "$HT_BUILD/tests/progs/prodcons" 2 3000
pcpid=$rpid
for x in py:$pypid pc:$pcpid; do
	p=${x%%:*} pid=${x#*:}
	"$HEAPTAPE" convert --pid "$pid" "$T/$p" "$T/$p.htape" 2>>"$T/err"
	rc=$?
	btext "$T/$p"
	same "$T/$p" "$T/$p.htape" "$pid"
	check "live $p (pid $pid): import = babeltrace2's text: $(head -1 \
"$T/$p.htape.cmp" 2>/dev/null)" \
		eval '[ $rc = 0 ] && ! grep -q MISMATCH "$T/$p.htape.cmp" &&
		      grep -q "[0-9]\{3,\} events" "$T/$p.htape.cmp"'
	grep MISMATCH "$T/$p.htape.cmp" 2>/dev/null | head -3 | sed 's/^/# /'
	"$HEAPTAPE" verify "$T/$p.htape" >/dev/null 2>&1
	vrc=$?
	ev=$(calls "$T/$p.htape")
	"$HEAPTAPE" replay -a glibc "$T/$p.htape" >"$T/$p.replay" 2>&1
	check "live $p: verify ok, replay -a glibc of its $ev events" \
		eval '[ $vrc = 0 ] && [ $? = 0 ] &&
		      grep -q "^replay of .*: $ev events" "$T/$p.replay"'
done
check "prodcons: every thread of the two pairs (5 with main) is kept" \
	[ "$(meta import.threads "$T/pc.htape")" = 5 ]

# Two processes at once, per-process buffers: one output each.
rec "$T/two" "-t vtid -t vpid -t procname" "--buffers-pid" 0 sh -c \
	"$KINDS 2 0 & $KINDS 1 0; wait"
btext "$T/two"
pids=$($CHK pids "$T/bt.two" lttng_kinds)
"$HEAPTAPE" convert "$T/two" "$T/two.htape" >"$T/two.out" 2>>"$T/err"
rc=$?
good=0
for p in $pids; do
	same "$T/two" "$T/two.$p.htape" "$p" &&
		! grep -q MISMATCH "$T/two.$p.htape.cmp" &&
		grep -q "^$T/two.$p.htape: pid $p (lttng_kinds), " "$T/two.out" &&
		[ "$(meta process.pid "$T/two.$p.htape")" = "$p" ] &&
		good=$((good + 1))
done
check "two processes (pids $pids): TWO.PID.htape each, named on stdout, \
each = babeltrace2's text of its pid" \
	eval '[ $rc = 0 ] && [ $(echo $pids | wc -w) = 2 ] && [ $good = 2 ] &&
	      [ ! -e "$T/two.htape" ]'
p1=${pids%% *}
"$HEAPTAPE" convert --pid "$p1" "$T/two" "$T/two1.htape" 2>>"$T/err" &&
	"$HEAPTAPE" convert "$T/two1.htape" "$T/two1.csv" 2>>"$T/err"
check "--pid $p1: that process into OUT itself, the same events" \
	cmp -s "$T/two1.csv" "$T/two.$p1.htape.csv"

# No vtid context: tid 0 and the no-tid flag.
rec "$T/notid" "-t vpid" "" 1 "$KINDS" 2 0
"$HEAPTAPE" convert "$T/notid" "$T/notid.htape" 2>>"$T/err"
btext "$T/notid"
same "$T/notid" "$T/notid.htape" "$rpid"
check "without the vtid context: every event tid 0, HT_TRACE_NO_TID, \
trace.has_tid 0, still = the text" \
	eval '! grep -q MISMATCH "$T/notid.htape.cmp" &&
	      grep -q " 1 threads" "$T/notid.htape.cmp" &&
	      [ "$(meta trace.has_tid "$T/notid.htape")" = 0 ] &&
	      "$DUMP" meta "$T/notid.htape" | grep -q "^flags 0x[0-9a-f]*[2367abef]$" &&
	      [ "$(awk -F, "NR > 1 {print \$3}" "$T/notid.htape.csv" | sort -u)" = 0 ]'

# The same deterministic program under heaptape record.
rec "$T/det" "-t vtid -t vpid" "" 1 "$KINDS" 3 0
"$HEAPTAPE" convert "$T/det" "$T/det.htape" 2>>"$T/err" &&
	"$HEAPTAPE" convert "$T/det.htape" "$T/det.csv" 2>>"$T/err"
"$HEAPTAPE" record -o "$T/detr.htape" -- "$KINDS" 3 0 >/dev/null 2>>"$T/err"
"$HEAPTAPE" convert "$T/detr.htape" "$T/detr.csv" 2>>"$T/err"
$CHK between "$T/det.csv" >"$T/det.ops" 2>&1
$CHK between "$T/detr.csv" >"$T/detr.ops" 2>&1
check "lttng_kinds under LTTng and under heaptape record: the same calls \
per op from its first to its last call ($(head -1 "$T/det.ops"))" \
	eval '[ -s "$T/det.ops" ] &&
	      [ "$(head -1 "$T/det.ops")" = "$(head -1 "$T/detr.ops")" ]'
# Outside the program's calls each trace has its tracer's runtime: in
# LTTng's, liblttng-ust's own callocs at start and frees at exit; in
# heaptape's, nothing of liblttng-ust (not loaded).  Shown, not compared.
echo "# outside the program's calls: lttng $(tail -1 "$T/det.ops" | \
	cut -d' ' -f2-); heaptape record $(tail -1 "$T/detr.ops" | cut -d' ' -f2-)"

if [ -n "$started" ]; then
	kill "$started" 2>/dev/null
fi
echo "# stderr of the conversions:"
sed 's/^/# /' "$T/err" | head -20
