#!/bin/sh
# t_replay.sh - `heaptape replay`: real allocators, real programs, real
# traces.  Every check compares replay with an independent figure:
# `heaptape stat` (events, peak_live_bytes), a python3 pass over the
# Android text, the program's own heap growth, or a broken allocator that
# --check-contents must catch.
set -u
T=$HT_TMP/replay
mkdir -p "$T"
GEN=$HT_BUILD/tests/replay_gen
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # what command...
	what=$1; shift
	if "$@" >"$T/out" 2>&1; then ok "$what"; else
		nok "$what"; sed 's/^/#   /' "$T/out" | head -20; fi
}
# jget FILE EXPR: a python3 expression over the JSON file (as d)
printf '%s\n' 'import json, sys' 'd = json.load(open(sys.argv[1]))' \
	'print(eval(sys.argv[2]))' >"$T/jget.py"
jget() { python3 "$T/jget.py" "$1" "$2" 2>&1; }
is() { # what actual expected
	if [ "$2" = "$3" ]; then ok "$1"; else
		nok "$1"; echo "#   got '$2', want '$3'"; fi
}
statget() { "$HEAPTAPE" stat --json "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }

ALL="-a glibc"
for so in jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 \
	  tcmalloc:libtcmalloc_minimal.so.4; do
	for f in /usr/lib/*/"${so#*:}" /usr/lib/"${so#*:}"; do
		if [ -e "$f" ]; then ALL="$ALL -a ${so%%:*}"; break; fi
	done
done
nall=$(echo "$ALL" | wc -w); nall=$((nall / 2))
[ "$nall" = 4 ] || echo "# only $nall allocators installed ($ALL)"

BUMP=$T/libbump.so
${CC:-cc} -shared -fPIC -O2 -o "$BUMP" "$HT_TOP/tests/replay/bump.c" 2>"$T/cc.err" || BUMP=

# --- usage and allocator errors ---------------------------------------
check "replay --help exits 0" "$HEAPTAPE" replay --help
"$GEN" mix "$T/mix.htape" 8 20000 1
"$HEAPTAPE" replay "$T/mix.htape" -a nosuchalloc >/dev/null 2>"$T/err"
check "unknown allocator name: exit 2 with the choices" \
	sh -c "[ $? = 2 ] && grep -q \"unknown allocator 'nosuchalloc'\" '$T/err'"
HEAPTAPE_ALLOC_DIRS=/nonexistent "$HEAPTAPE" replay "$T/mix.htape" \
	-a jemalloc >/dev/null 2>"$T/err"
check "missing allocator: exit 1 naming the package" \
	sh -c "[ $? = 1 ] && grep -q \"allocator 'jemalloc' not found; install it with: apt-get install libjemalloc2\" '$T/err'"
"$HEAPTAPE" replay "$T/mix.htape" -a "$T/none.so" >/dev/null 2>"$T/err"
check "allocator path that does not exist: exit 1" \
	sh -c "[ $? = 1 ] && grep -q 'none.so' '$T/err'"
# Harness errors are found before any work: one line, nothing replayed.
"$HEAPTAPE" replay "$T/mix.htape" -a "$HT_BUILD/libheaptape.so" \
	>"$T/out1" 2>"$T/err"
is "a .so without malloc: exit 1 before replaying, one line" \
	"$? $(wc -c <"$T/out1") $(wc -l <"$T/err") $(grep -c 'does not define malloc and free' "$T/err")" \
	"1 0 1 1"
printf 'not an elf\n' >"$T/text.so"
"$HEAPTAPE" replay "$T/mix.htape" -a "$T/text.so" -a glibc >"$T/out1" 2>"$T/err"
is "-a a file that is not ELF: exit 1 before replaying, one line" \
	"$? $(wc -c <"$T/out1") $(wc -l <"$T/err") $(grep -c "text.so': not an ELF file" "$T/err")" \
	"1 0 1 1"
"$HEAPTAPE" replay "$T/mix.htape" --json "$T/nodir/r.json" >"$T/out1" 2>"$T/err"
is "--json in a missing directory: exit 1 before replaying, one line" \
	"$? $(wc -c <"$T/out1") $(wc -l <"$T/err") $(grep -c "cannot create '$T/nodir/r.json'" "$T/err")" \
	"1 0 1 1"

# --- synthetic trace: every call kind, hand-offs, thread churn --------
"$HEAPTAPE" replay "$T/mix.htape" $ALL --json "$T/mix.json" >"$T/mix.table"
rc=$?
check "mix: replays on $nall allocators, exit 0" sh -c "[ $rc = 0 ]"
want_peak=$(statget "$T/mix.htape" peak_live_bytes)
want_ev=$(statget "$T/mix.htape" events)
check "mix: every allocator ok, ideal peak = stat peak_live_bytes ($want_peak)" \
	sh -c "[ \"\$(python3 $T/jget.py '$T/mix.json' \"sorted(set((a['status'], a['ideal_peak_bytes']) for a in d['allocators']))\")\" = \"[('ok', $want_peak)]\" ]"
check "mix: events replayed = stat events ($want_ev), none skipped" \
	sh -c "[ \"\$(python3 $T/jget.py '$T/mix.json' \"(d['events'], d['skipped'])\")\" = \"($want_ev, {})\" ]"
check "mix: same calls on every allocator; cross-thread edges present" \
	sh -c "[ \"\$(python3 $T/jget.py '$T/mix.json' \"len(set(a['calls'] for a in d['allocators'])) == 1 and d['edges'] > 100\")\" = True ]"
check "mix: JSON has the documented keys, ops with percentiles, rss_series" \
	sh -c "[ \"\$(python3 $T/jget.py '$T/mix.json' \"all(set(['name','wall_s','user_s','sys_s','peak_rss_bytes','ideal_peak_bytes','fragmentation','page_faults','events','ops','skipped','rss_series']) <= set(a) and a['ops']['malloc']['count'] > 0 and a['ops']['malloc']['p50_ns'] <= a['ops']['malloc']['p99_ns'] <= a['ops']['malloc']['p999_ns'] <= a['ops']['malloc']['max_ns'] and len(a['rss_series']) > 0 and a['peak_rss_bytes'] > 0 for a in d['allocators'])\")\" = True ]"
check "mix: table names every allocator" \
	sh -c "for a in $ALL; do [ \$a = -a ] && continue; grep -q \"\$a\" '$T/mix.table' || exit 1; done"
"$HEAPTAPE" replay "$T/mix.htape" --json "$T/mix2.json" >/dev/null
check "mix: a second replay gives the same ideal peak and op counts" \
	sh -c "[ \"\$(python3 $T/jget.py '$T/mix.json' \"(d['ideal_peak_bytes'], {k: v['count'] for k, v in d['allocators'][0]['ops'].items()})\")\" = \"\$(python3 $T/jget.py '$T/mix2.json' \"(d['ideal_peak_bytes'], {k: v['count'] for k, v in d['allocators'][0]['ops'].items()})\")\" ]"
"$HEAPTAPE" replay "$T/mix.htape" --threads=1 --json "$T/mix1.json" >/dev/null
check "mix --threads=1: one thread, same events, calls and ideal peak" \
	sh -c "[ \"\$(python3 $T/jget.py '$T/mix1.json' \"(d['threads'], d['events'], d['allocators'][0]['calls'], d['ideal_peak_bytes'])\")\" = \"(1, \$(python3 $T/jget.py '$T/mix.json' \"(d['events'], d['allocators'][0]['calls'], d['ideal_peak_bytes'])\" | tr -d '()'))\" ]"
"$HEAPTAPE" replay "$T/mix.htape" -a glibc -a glibc --csv >"$T/mix.csv"
check "--csv: a header and one row per allocator" \
	sh -c "[ \$(wc -l <'$T/mix.csv') = 3 ] && head -1 '$T/mix.csv' | grep -q '^allocator,status,wall_s,.*malloc_p999_ns' && grep -c '^glibc,ok,' '$T/mix.csv' | grep -qx 2"
"$HEAPTAPE" replay "$T/mix.htape" --repeat 3 --no-touch --json "$T/rep.json" >/dev/null
check "--repeat 3 reports 3 runs" \
	sh -c "[ \"\$(python3 $T/jget.py '$T/rep.json' \"d['allocators'][0]['runs']\")\" = 3 ]"
"$HEAPTAPE" replay "$T/mix.htape" --timing=recorded --speed 5 \
	--json "$T/rec.json" >/dev/null
check "--timing=recorded --speed 5 takes about the trace span / 5" \
	sh -c "[ \"\$(python3 $T/jget.py '$T/rec.json' \"d['allocators'][0]['wall_s'] >= 0.8 * $(statget "$T/mix.htape" time_span_ns) / 5e9\")\" = True ]"
"$HEAPTAPE" replay "$T/mix.htape" --pid 1 --json "$T/pid.json" >/dev/null 2>"$T/err"
check "--pid of an absent process: warning, nothing replayed, exit 0" \
	sh -c "[ $? = 0 ] && grep -q 'no events of pid 1' '$T/err' && [ \"\$(python3 $T/jget.py '$T/pid.json' \"d['events']\")\" = 0 ]"

# --- producer/consumer: every block freed by another thread -----------
"$GEN" prodcons "$T/pc.htape" 4 20000 2
"$HEAPTAPE" replay "$T/pc.htape" $ALL --check-contents --json "$T/pc.json" \
	>/dev/null 2>"$T/err"
rc=$?
check "prodcons --check-contents: clean on $nall allocators" \
	sh -c "[ $rc = 0 ] && [ \"\$(python3 $T/jget.py '$T/pc.json' \"sorted(set((a['status'], a['content_errors']) for a in d['allocators'])) == [('ok', 0)] and d['edges'] > 5000\")\" = True ]"
# 100 runs of a small producer/consumer trace: the real program recorded
# when the recorder is built, else a generated one; allocators and skew
# windows (none, 300, 600 events) in turn.
pcs="generated"
"$GEN" prodcons "$T/pcs.htape" 6 3000 3
if [ -x "$HT_BUILD/tests/progs/prodcons" ] && [ -f "$HT_PRELOAD" ]; then
	rm -f "$T/pcs2.htape"
	if "$HEAPTAPE" record -q -o "$T/pcs2.htape" -- \
	   "$HT_BUILD/tests/progs/prodcons" 2 1000 >/dev/null 2>&1; then
		mv "$T/pcs2.htape" "$T/pcs.htape"
		pcs="recorded prodcons"
	fi
fi
fails=0
i=0
while [ $i -lt 100 ]; do
	case $((i % 4)) in 0) a=glibc ;; 1) a=jemalloc ;; 2) a=mimalloc ;; 3) a=tcmalloc ;; esac
	echo "$ALL" | grep -q -- "$a" || a=glibc
	timeout 20 "$HEAPTAPE" replay "$T/pcs.htape" -a $a --check-contents \
		--window $(( (i % 3) * 300 )) >/dev/null 2>&1 || fails=$((fails + 1))
	i=$((i + 1))
done
check "prodcons ($pcs): 100 replays, no deadlock (20 s timeout each), no content error" \
	sh -c "[ $fails = 0 ]"

if [ -n "$BUMP" ]; then
	"$HEAPTAPE" replay "$T/pc.htape" -a "$BUMP" --check-contents >/dev/null 2>&1
	rc1=$?
	BUMP_BREAK_REALLOC=1 "$HEAPTAPE" replay "$T/pc.htape" -a "$BUMP" \
		--check-contents >/dev/null 2>"$T/err"
	rc2=$?
	check "--check-contents: a correct bump allocator passes, one whose realloc loses data fails" \
		sh -c "[ $rc1 = 0 ] && [ $rc2 = 1 ] && grep -q 'realloc lost' '$T/err'"
	BUMP_ABORT_IN_FREE=1 "$HEAPTAPE" replay "$T/pc.htape" -a glibc \
		-a "$BUMP" --json "$T/crash.json" >/dev/null 2>"$T/err"
	rc=$?
	is "an allocator that crashes: exit 1, reported as failed with the signal, the others still reported" \
		"$rc $(grep -c 'died: signal 6' "$T/err") $(jget "$T/crash.json" "[a['status'] for a in d['allocators']]")" \
		"1 1 ['ok', 'failed']"
else
	skip "--check-contents catches a broken realloc" "no C compiler"
fi

# --- recorded programs -------------------------------------------------
if [ -x "$HT_BUILD/tests/progs/prodcons" ] && [ -f "$HT_PRELOAD" ]; then
	rm -f "$T/pcr.htape"
	"$HEAPTAPE" record -q -o "$T/pcr.htape" -- "$HT_BUILD/tests/progs/prodcons" 2 5000 >/dev/null 2>&1
	"$HEAPTAPE" replay "$T/pcr.htape" $ALL --check-contents \
		--json "$T/pcr.json" >/dev/null 2>"$T/err"
	rc=$?
	check "recorded prodcons program: --check-contents clean on $nall allocators, hand-offs replayed" \
		sh -c "[ $rc = 0 ] && [ \"\$(python3 $T/jget.py '$T/pcr.json' \"all(a['status'] == 'ok' and a['content_errors'] == 0 for a in d['allocators']) and d['edges'] > 1000 and d['events'] == $(statget "$T/pcr.htape" events)\")\" = True ]"
else
	skip "recorded prodcons program" "no recorder or prodcons"
fi

# --- a process and its children: their traces replayed together -------
# Two traces of one pid (reused): the first leaves a 64-byte block live
# when it ends, the second allocates 100 bytes at the same address.  The
# first process's exit releases its block, so nothing is an inversion or
# a double free and the ideal peak is 100, not 164.
H='time_ns,pid,tid,op,heap,address,size,old_address,old_size,alignment,nmemb,result'
printf '%s\r\n' "$H" '1000,100,100,malloc,,0x1000,64,,,,,ok' \
	'1500,100,100,malloc,,0x2000,16,,,,,ok' \
	'1600,100,100,free,,0x2000,,,,,,ok' >"$T/pa.csv"
printf '%s\r\n' "$H" '5000,100,100,malloc,,0x1000,100,,,,,ok' \
	'6000,100,100,free,,0x1000,,,,,,ok' >"$T/pb.csv"
rm -f "$T/pa.htape" "$T/pb.htape"
"$HEAPTAPE" convert "$T/pa.csv" "$T/pa.htape" &&
	"$HEAPTAPE" convert "$T/pb.csv" "$T/pb.htape"
"$HEAPTAPE" replay "$T/pb.htape" "$T/pa.htape" --check-contents \
	--json "$T/pp.json" >"$T/pp.table" 2>"$T/err"
is "two traces of a reused pid: two processes, the first one's block freed at its exit, nothing skipped" \
	"$(jget "$T/pp.json" "(d['events'], d['processes'], d['exit_blocks'], d['inversions'], d['skipped'], d['ideal_peak_bytes'], d['allocators'][0]['calls'], d['allocators'][0]['content_errors'])")" \
	"(5, 2, 1, 0, {}, 100, 5, 0)"
check "two traces: the table says so, and the JSON lists both" \
	sh -c "grep -q 'and 1 more trace: 5 events' '$T/pp.table' && grep -q 'at process exits, freed there untimed 1' '$T/pp.table' && [ \"\$(python3 $T/jget.py '$T/pp.json' \"[t.rsplit('/', 1)[-1] for t in d['traces']]\")\" = \"['pb.htape', 'pa.htape']\" ]"
"$HEAPTAPE" replay "$T/pa.htape" --json "$T/pa.json" >/dev/null 2>&1
is "one trace: no exit release (nothing after its end)" \
	"$(jget "$T/pa.json" "(d['exit_blocks'], d['ideal_peak_bytes'], d['processes'])")" "(0, 80, 1)"
"$HEAPTAPE" replay "$T/pa.htape" "$T/nonexistent.htape" >/dev/null 2>"$T/err"
check "a missing trace among several: exit 1 naming it" \
	sh -c "[ $? = 1 ] && grep -q 'nonexistent.htape' '$T/err'"
head -c 200 "$T/pa.htape" >"$T/pcut.htape"
"$HEAPTAPE" replay "$T/pb.htape" "$T/pcut.htape" --json "$T/pc2.json" \
	>/dev/null 2>"$T/err"
rc=$?
check "a cut trace among several: a warning naming it, the others replayed, exit 0" \
	sh -c "[ $rc = 0 ] && grep -q 'pcut.htape' '$T/err' && [ \"\$(python3 $T/jget.py '$T/pc2.json' \"d['events'] >= 2\")\" = True ]"

# convert --anonymize keeps what replay needs of addresses: equality
# (an in-place realloc stays in place), alignment of aligned blocks up
# to 2 MiB; and refuses other outputs
printf '%s\r\n' "$H" '1000,7,7,posix_memalign,,0x7f3a12400000,100,,,2097152,,ok' \
	'1100,7,7,aligned_alloc,,0x7f3a12620000,64,,,131072,,ok' \
	'1200,7,7,malloc,,0x55d0c0a012a0,24,,,,,ok' \
	'1300,7,7,realloc,,0x55d0c0a012a0,40,0x55d0c0a012a0,,,,ok' \
	'1400,7,7,free,,0x55d0c0a012a0,,,,,,ok' \
	'1500,7,7,free,,0x7f3a12400000,,,,,,ok' \
	'1600,7,7,free,,0x7f3a12620000,,,,,,ok' >"$T/al.csv"
rm -f "$T/al.htape" "$T/al.anon.htape"
"$HEAPTAPE" convert "$T/al.csv" "$T/al.htape" &&
	"$HEAPTAPE" convert --anonymize "$T/al.htape" "$T/al.anon.htape"
"$HEAPTAPE" convert "$T/al.anon.htape" "$T/al.anon.csv" 2>/dev/null
is "--anonymize: aligned blocks stay aligned, the in-place realloc in place, frees on their blocks" \
	"$(python3 -c '
import csv, sys
r = list(csv.DictReader(open(sys.argv[1], newline="")))
a = [int(x["address"], 16) for x in r]
print(a[0] % 2097152 == 0, a[1] % 131072 == 0,
      int(r[3]["old_address"], 16) == a[3] == a[2] == a[4], a[5] == a[0],
      a[6] == a[1], len(set(a[:3])) == 3, max(a) < 2**32)' "$T/al.anon.csv")" \
	"True True True True True True True"
"$HEAPTAPE" convert --anonymize "$T/al.htape" "$T/al.anon.csv" >/dev/null 2>"$T/err"
check "--anonymize to a CSV: exit 2, saying it writes .htape" \
	sh -c "[ $? = 2 ] && grep -q 'anonymize converts a .htape trace to a .htape' '$T/err'"
# the same trace given twice would replay its process twice: said once
"$HEAPTAPE" replay -a glibc "$T/al.htape" "$T/al.htape" >/dev/null 2>"$T/err"
check "replay of the same trace twice: one warning naming both" \
	[ "$(grep -c "warning: '.*al.htape' is the same trace as '.*al.htape' (same UUID)" "$T/err")" = 1 ]

# Processes one after the other (a shell running 8 pythons): the slots
# of an ended process's threads are reused by the next processes, so
# the harness's memory stays that of one process, not of all 8
if [ -f "$HT_PRELOAD" ]; then
	rm -f "$T"/sq.htape*
	py=$(python3 -c 'import sys; print(sys.executable)')
	PYTHONMALLOC=malloc "$HEAPTAPE" record -q -o "$T/sq.htape" -- sh -c \
		'for i in 1 2 3 4 5 6 7 8; do "$0" -c "x = [str(i) for i in range(200000)]"; done' "$py" \
		>/dev/null 2>&1
	set -- "$T/sq.htape" "$T"/sq.htape.*
	big=$(ls -S "$T"/sq.htape.* | head -1)
	"$HEAPTAPE" replay "$big" --no-touch --json "$T/sq1.json" >/dev/null 2>&1
	"$HEAPTAPE" replay "$@" --no-touch --json "$T/sq.json" >/dev/null 2>&1
	one=$(jget "$T/sq1.json" "d['allocators'][0]['peak_rss_bytes']")
	all=$(jget "$T/sq.json" "(d['processes'], d['allocators'][0]['peak_rss_bytes'])")
	check "8 sequential pythons ($# traces) replayed together: peak RSS $all about one's ($one)" \
		sh -c "[ \"\$(python3 -c \"p, a = $all; print(p >= 9 and a < 2 * $one + (8 << 20))\")\" = True ]"
	set --
else
	skip "sequential processes replay" "no recorder"
fi

# gcc: the driver, cc1 and as, each a trace.  Checked against stat of
# each trace and against python3 over their merged CSV: the ideal peak
# of the tree, where a process's blocks go when its last event is past.
if [ -f "$HT_PRELOAD" ] && command -v gcc >/dev/null; then
	rm -f "$T/gcc.htape" "$T"/gcc.htape.*
	"$HEAPTAPE" record -q -o "$T/gcc.htape" -- gcc -O2 -c \
		"$HT_TOP/format/block.c" -I"$HT_TOP/format" -o "$T/block.o" \
		>/dev/null 2>&1
	set -- "$T/gcc.htape" "$T"/gcc.htape.*
	ntr=$#
	"$HEAPTAPE" replay "$@" $ALL --check-contents --json "$T/gcc.json" \
		>"$T/gcc.table" 2>"$T/err"
	rc=$?
	sev=0; slive=0; smax=0; ssum=0
	for f in "$@"; do
		sev=$((sev + $(statget "$f" events)))
		slive=$((slive + $(statget "$f" live_at_end_blocks)))
		pk=$(statget "$f" peak_live_bytes)
		ssum=$((ssum + pk)); [ "$pk" -gt "$smax" ] && smax=$pk
	done
	check "gcc ($ntr traces): replayed together on $nall allocators, contents intact" \
		sh -c "[ $rc = 0 ] && [ $ntr -ge 3 ] && [ \"\$(python3 $T/jget.py '$T/gcc.json' \"all(a['status'] == 'ok' and a['content_errors'] == 0 for a in d['allocators'])\")\" = True ]"
	is "gcc: events read = stat's over the traces, one process a trace" \
		"$(jget "$T/gcc.json" "(d['events_read'], d['processes'])")" "($sev, $ntr)"
	is "gcc: blocks freed at exits = stat's live_at_end_blocks summed ($slive)" \
		"$(jget "$T/gcc.json" "(d['exit_blocks'], d['exit_blocks'] > 0)")" "($slive, True)"
	"$HEAPTAPE" convert "$@" "$T/gcc.csv" >/dev/null 2>&1
	python3 -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
last = {}
for i, r in enumerate(rows):
    last[r["pid"]] = i
live = {}; cur = peak = 0; per = {}; pcur = {}
adds = ("malloc", "calloc", "realloc", "reallocarray", "posix_memalign",
        "aligned_alloc", "memalign", "valloc", "pvalloc")
for i, r in enumerate(rows):
    pid, op = r["pid"], r["op"]
    def rel(a):
        global cur
        n = live.pop((pid, a), None)
        if n is not None:
            cur -= n; pcur[pid] -= n
    if r["result"] == "ok":
        if op in ("realloc", "reallocarray") and r["old_address"]:
            rel(r["old_address"])
        if op in adds and r["address"] and r["address"] != "0x0":
            n = int(r["size"]) * (int(r["nmemb"]) if r["nmemb"] else 1)
            rel(r["address"])
            live[(pid, r["address"])] = n
            cur += n; pcur[pid] = pcur.get(pid, 0) + n
            peak = max(peak, cur); per[pid] = max(per.get(pid, 0), pcur[pid])
        elif op.startswith("free") and r["address"]:
            rel(r["address"])
    if last[pid] == i:  # the process has exited
        for k in [k for k in live if k[0] == pid]:
            cur -= live.pop(k)
        pcur[pid] = 0
print(peak, sum(per.values()), max(per.values()))' "$T/gcc.csv" >"$T/gcc.peak"
	is "gcc: python3 over the merged CSV finds each trace's stat peak (sum $ssum, largest $smax)" \
		"$(cut -d' ' -f2,3 "$T/gcc.peak")" "$ssum $smax"
	is "gcc: ideal peak of the tree = python3's, with each process's blocks gone at its exit" \
		"$(jget "$T/gcc.json" "d['ideal_peak_bytes']")" "$(cut -d' ' -f1 "$T/gcc.peak")"
	check "gcc: the tree's ideal peak lies between the largest process's and the sum" \
		sh -c "[ \"\$(python3 $T/jget.py '$T/gcc.json' \"$smax <= d['ideal_peak_bytes'] <= $ssum\")\" = True ]"
	# convert --interval and plot of the tree drop a process's blocks
	# when its trace ends, as replay does (python3: after its last row,
	# the last process's end being past the last row).
	"$HEAPTAPE" convert --interval 1ms "$@" "$T/gcc.iv.csv" >/dev/null 2>&1
	python3 -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
iv = [int(r["live_bytes"]) for r in csv.DictReader(open(sys.argv[2], newline=""))]
last = {r["pid"]: i for i, r in enumerate(rows)}
adds = ("malloc", "calloc", "realloc", "reallocarray", "posix_memalign",
        "aligned_alloc", "memalign", "valloc", "pvalloc")
live = {}; cur = 0; out = []; b0 = None
for i, r in enumerate(rows):
    pid, op, b = r["pid"], r["op"], int(r["time_ns"]) // 1000000
    while b0 is not None and b0 < b:
        out.append(cur); b0 += 1
    b0 = b
    if r["result"] == "ok":
        if op in ("realloc", "reallocarray") and r["old_address"]:
            cur -= live.pop((pid, r["old_address"]), 0)
        if op in adds and r["address"] and r["address"] != "0x0":
            cur -= live.pop((pid, r["address"]), 0)
            n = int(r["size"]) * (int(r["nmemb"]) if r["nmemb"] else 1)
            live[(pid, r["address"])] = n; cur += n
        elif op.startswith("free") and r["address"]:
            cur -= live.pop((pid, r["address"]), 0)
    if last[pid] == i and i != len(rows) - 1:
        for k in [k for k in live if k[0] == pid]:
            cur -= live.pop(k)
out.append(cur)
print("same" if out == iv else "differ: %d vs %d buckets, first at %s" % (
    len(out), len(iv), next((j for j, (x, y) in enumerate(zip(out, iv)) if x != y), None)))' \
		"$T/gcc.csv" "$T/gcc.iv.csv" >"$T/gcc.ivchk" 2>&1
	is "gcc: convert --interval of the tree: live bytes per ms as python3 has them, each process's dropped at its exit" \
		"$(cat "$T/gcc.ivchk")" "same"
	"$HEAPTAPE" plot "$@" -o "$T/gcc.svg" >/dev/null 2>&1
	python3 - "$T/gcc.svg" "$(statget "$T/gcc.htape" live_at_end_bytes)" \
		<<'EOF' >"$T/gcc.plotchk" 2>&1
import os, sys
sys.path.insert(0, os.path.join(os.environ["HT_TOP"], "tests", "tools"))
import svgaxis
root, val, top = svgaxis.load(sys.argv[1])
end = val(svgaxis.ys(svgaxis.lines(root)[0])[-1])
want = int(sys.argv[2])  # the driver, the last process running
print("ok" if abs(end - want) <= 0.02 * top else
      "sum line ends at %.0f, want %d" % (end, want))
# the lines of processes that exited (cc1: its live bytes and its RSS)
# end there, not at the right edge
xs = [[float(p.split(",")[0]) for p in l.get("points").split()]
      for l in svgaxis.lines(root)]
edge = max(x[-1] for x in xs)
print("ended lines", sum(x[-1] < edge - 1 for x in xs) >= 2)
EOF
	is "gcc: plot of the tree: the sum line ends at the driver's live bytes, its children's given back at their exits; an exited process's lines end at its exit" \
		"$(tr '\n' ' ' <"$T/gcc.plotchk")" "ok ended lines True "
	check "gcc: recorded peak RSS is of the processes together, at least the largest one's" \
		sh -c "grep -q 'its processes together' '$T/gcc.table' && [ \"\$(python3 $T/jget.py '$T/gcc.json' \"d['recorded_peak_rss_bytes'] >= max($(for f in "$@"; do printf '%s,' "$(statget "$f" recorded_peak_rss_bytes)"; done))\")\" = True ]"
	# convert --anonymize, trace by trace: nothing of the program's
	# names or addresses is left, and stat and replay see the same heap
	for f in "$@"; do
		rm -f "$f.anon.htape"
		"$HEAPTAPE" convert --anonymize --no-progress "$f" "$f.anon.htape" \
			>/dev/null 2>&1 || echo "convert failed: $f" >>"$T/anon.err"
	done
	keys="['events', 'ops', 'threads', 'peak_live_bytes', 'peak_live_blocks', 'unknown_frees', 'reused_addresses', 'live_at_end_bytes', 'live_at_end_blocks', 'failed_calls', 'time_span_ns']"
	same=0 names=0 addrs=0 times=0
	for f in "$@"; do
		"$HEAPTAPE" stat --json "$f" >"$T/o.json"
		"$HEAPTAPE" stat --json "$f.anon.htape" >"$T/a.json"
		[ "$(jget "$T/o.json" "[d[k] for k in $keys]")" = \
		  "$(jget "$T/a.json" "[d[k] for k in $keys]")" ] && same=$((same + 1))
		# no exe, command line, host name or thread name; marked
		python3 - "$T/o.json" "$T/a.json" <<'EOF' && names=$((names + 1))
import json, sys
o, a = (json.load(open(f)) for f in sys.argv[1:])
gone = [o["meta"][k] for k in ("process.exe", "process.cmdline", "host.name")]
gone += [t["name"] for t in o["per_thread"] if t.get("name")]
del a["file"]  # its name is the user's choice
text = json.dumps(a)
sys.exit(not (all(g not in text for g in gone) and
              a["meta"].get("trace.anonymized") == "1" and
              not any(k in a["meta"] for k in ("process.exe",
                      "process.cmdline", "host.name", "host.kernel",
                      "process.start_realtime_ns",
                      "clock.realtime_offset_ns"))))
EOF
		# times from the trace's start, not the machine's uptime;
		# the same distances between them; no TSC frequency
		"$HEAPTAPE" cat "$f" | awk '{print $1}' | tr -d . >"$T/o.ts"
		"$HEAPTAPE" cat "$f.anon.htape" | awk '{print $1}' |
			tr -d . >"$T/a.ts"
		python3 - "$T/o.ts" "$T/a.ts" "$T/a.json" <<'EOF' && times=$((times + 1))
import json, sys
o = [int(x) for x in open(sys.argv[1])]
a = [int(x) for x in open(sys.argv[2])]
m = json.load(open(sys.argv[3]))["meta"]
d = o[0] - a[0] if o and a else 0
sys.exit(not (len(o) == len(a) and d > 0 and a[0] < 10**9 and
              all(x - y == d for x, y in zip(o, a)) and
              "clock.tsc_hz" not in m and
              m.get("clock.origin_ticks") == "0"))
EOF
		"$HEAPTAPE" cat "$f" | grep -o '0x[0-9a-f]*' | grep -vx 0x0 |
			sort -u >"$T/o.addr"
		"$HEAPTAPE" cat "$f.anon.htape" | grep -o '0x[0-9a-f]*' |
			grep -vx 0x0 | sort -u >"$T/a.addr"
		[ "$(wc -l <"$T/o.addr")" = "$(wc -l <"$T/a.addr")" ] &&
			[ -z "$(comm -12 "$T/o.addr" "$T/a.addr")" ] &&
			addrs=$((addrs + 1))
	done
	is "gcc --anonymize: each trace's stat the same (events, ops, peaks, reuse, unknown frees, live at end)" \
		"$same $(cat "$T/anon.err" 2>/dev/null)" "$ntr "
	is "gcc --anonymize: no exe, command line, host or thread name left; trace.anonymized=1" \
		"$names" "$ntr"
	is "gcc --anonymize: as many distinct addresses (NULL aside), none of them recorded ones" \
		"$addrs" "$ntr"
	is "gcc --anonymize: times from each trace's start (no uptime), the same distances, no TSC frequency" \
		"$times" "$ntr"
	set -- "$T/gcc.htape.anon.htape" "$T"/gcc.htape.*.anon.htape
	"$HEAPTAPE" replay "$@" --json "$T/gcca.json" >/dev/null 2>&1
	rkeys="[d[k] for k in ('events', 'events_read', 'processes', 'threads', 'ideal_peak_bytes', 'skipped', 'inversions', 'exit_blocks', 'edges')] + [d['allocators'][0]['calls']]"
	is "gcc --anonymize: replay of the anonymized traces = replay of the recorded ones" \
		"$(jget "$T/gcca.json" "$rkeys")" "$(jget "$T/gcc.json" "$rkeys")"
	set --
	set --
else
	skip "gcc process tree replay" "no recorder or gcc"
fi

# A program recorded with --latency: the report sets its own call times
# beside the allocators' (table column "recorded", JSON recorded_ops,
# a CSV row), the same calls per kind as replayed; without it, none.
if [ -x "$HT_BUILD/tests/progs/prodcons" ] && [ -f "$HT_PRELOAD" ]; then
	rm -f "$T/pcl.htape"
	"$HEAPTAPE" record -q --latency -o "$T/pcl.htape" -- \
		"$HT_BUILD/tests/progs/prodcons" 2 5000 >/dev/null 2>&1
	"$HEAPTAPE" replay "$T/pcl.htape" -a glibc --json "$T/pcl.json" \
		>"$T/pcl.txt" 2>/dev/null
	"$HEAPTAPE" replay "$T/pcl.htape" -a glibc --csv >"$T/pcl.csv" \
		2>/dev/null
	is "recorded --latency: recorded_ops has the replayed calls of each kind" \
		"$(jget "$T/pcl.json" "sorted((k, v['count']) for k, v in d['recorded_ops'].items()) == sorted((k, v['count']) for k, v in d['allocators'][0]['ops'].items()) and d['recorded_ops']['malloc']['count'] > 10000 and d['recorded_ops']['malloc']['max_ns'] > 0")" True
	grep -q '^ *recorded *glibc$' "$T/pcl.txt" &&
		grep -q "^recorded = the program's own calls, .*clock's own cost, [0-9.]* ns, excluded)$" "$T/pcl.txt" &&
		grep -q '^malloc ns p99 *[0-9][0-9]* *[0-9][0-9]*$' "$T/pcl.txt" &&
		grep -q '^recorded,recorded,' "$T/pcl.csv" &&
		ok "recorded --latency: a recorded column in the table, a row in --csv" ||
		nok "recorded --latency: a recorded column in the table, a row in --csv"
	is "without --latency: recorded_ops is null" \
		"$(jget "$T/pcr.json" "d['recorded_ops']")" None
else
	skip "recorded --latency" "no recorder or prodcons"
fi

# Heap growth of a program = its peak RSS minus the peak RSS of the same
# program doing nothing (same binary, threads, libraries): what the heap
# added.  Replay's peak_rss_bytes is the anonymous RSS above the worker's
# baseline.  Both are medians of 3 runs.
maxrss() { "$HT_BUILD/tests/progs/replay_maxrss" "$@"; }
med3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
recorded_case() { # name trace work-command... -- idle-command...
	name=$1 tr=$2; shift 2
	"$HEAPTAPE" replay "$tr" --repeat 3 --json "$T/$name.json" >/dev/null
	ev=$(statget "$tr" events)
	pk=$(statget "$tr" peak_live_bytes)
	check "$name: events replayed = recorded ($ev), none skipped" \
		sh -c "[ \"\$(python3 $T/jget.py '$T/$name.json' \"(d['events'], d['skipped'])\")\" = \"($ev, {})\" ]"
	check "$name: ideal peak = stat peak_live_bytes ($pk)" \
		sh -c "[ \"\$(python3 $T/jget.py '$T/$name.json' \"d['ideal_peak_bytes']\")\" = $pk ]"
	rss=$(jget "$T/$name.json" "d['allocators'][0]['peak_rss_bytes']")
	echo "# $name: replay peak RSS $rss, program heap growth $growth, recorded_peak_rss_bytes $(statget "$tr" recorded_peak_rss_bytes)"
	check "$name: glibc replay peak RSS ($rss) within 10% of the program's heap growth ($growth)" \
		python3 -c "import sys; r, g = $rss, $growth; sys.exit(not (abs(r - g) <= 0.10 * g))"
	is "$name: the report names the recorded run (allocator, peak RSS = stat's)" \
		"$(jget "$T/$name.json" "(d['recorded_allocator'], d['recorded_peak_rss_bytes'])")" \
		"('glibc', $(statget "$tr" recorded_peak_rss_bytes))"
}
STORM=$HT_BUILD/tests/progs/replay_storm
if [ -x "$STORM" ] && [ -f "$HT_PRELOAD" ]; then
	rm -f "$T/storm1.htape"
	"$HEAPTAPE" record -q -o "$T/storm1.htape" -- "$STORM" 1 400000 32768 >/dev/null
	g1=$(med3 "$(maxrss "$STORM" 1 400000 32768)" "$(maxrss "$STORM" 1 400000 32768)" "$(maxrss "$STORM" 1 400000 32768)")
	g0=$(med3 "$(maxrss "$STORM" 1 0 32768)" "$(maxrss "$STORM" 1 0 32768)" "$(maxrss "$STORM" 1 0 32768)")
	growth=$((g1 - g0))
	recorded_case storm1 "$T/storm1.htape"
	# a damaged block skipped by --salvage is a gap of its events, as a
	# loss record would be
	python3 -c 'import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 0x10
open(sys.argv[2], "wb").write(b)' "$T/storm1.htape" "$T/storm1d.htape"
	"$HEAPTAPE" replay --salvage -a glibc --json "$T/storm1d.json" \
		"$T/storm1d.htape" >/dev/null 2>&1
	lost=$(( $(statget "$T/storm1.htape" events) -
		 $("$HEAPTAPE" stat --salvage --json "$T/storm1d.htape" 2>/dev/null |
		   python3 -c 'import json, sys; print(json.load(sys.stdin)["events"])') ))
	is "--salvage: a damaged block's $lost events are a loss gap" \
		"$(python3 $T/jget.py "$T/storm1d.json" "d['skipped'].get('loss_gap', 0)")" \
		"$lost"
else
	skip "storm1 recorded and replayed" "no recorder or replay_storm"
fi
if command -v sqlite3 >/dev/null && [ -f "$HT_PRELOAD" ]; then
	cat >"$T/work.sql" <<'EOF'
create table t(a integer primary key, b text, c blob);
with recursive n(i) as (select 1 union all select i+1 from n where i < 60000)
insert into t select i, printf('row %d %s', i, hex(randomblob(20))), randomblob(i % 300) from n;
create index tb on t(b);
select count(*), sum(length(c)) from t where b like 'row 1%';
update t set b = b || 'x' where a % 3 = 0;
delete from t where a % 5 = 0;
select count(*) from t;
EOF
	echo "select 1;" >"$T/idle.sql"
	rm -f "$T/sqlite.htape"
	"$HEAPTAPE" record -q -o "$T/sqlite.htape" -- sqlite3 :memory: \
		<"$T/work.sql" >/dev/null
	sq() { maxrss -i "$1" sqlite3 :memory:; }
	g1=$(med3 "$(sq "$T/work.sql")" "$(sq "$T/work.sql")" "$(sq "$T/work.sql")")
	g0=$(med3 "$(sq "$T/idle.sql")" "$(sq "$T/idle.sql")" "$(sq "$T/idle.sql")")
	growth=$((g1 - g0))
	"$HEAPTAPE" stat --json "$T/sqlite.htape" >/dev/null 2>&1 &&
		recorded_case sqlite "$T/sqlite.htape"
else
	skip "sqlite recorded and replayed" "no sqlite3 or recorder"
fi

# --- hostile traces ----------------------------------------------------
"$GEN" hostile "$T/host.htape" 6 20000 4
"$HEAPTAPE" replay "$T/host.htape" $ALL --json "$T/host.json" >"$T/host.table" 2>&1
rc=$?
check "hostile: exit 0 on $nall allocators, all ok" \
	sh -c "[ $rc = 0 ] && [ \"\$(python3 $T/jget.py '$T/host.json' \"all(a['status'] == 'ok' for a in d['allocators'])\")\" = True ]"
check "hostile: unknown and double frees, failed calls, loss gap, unsupported op, a 32 TiB block counted; inversions fixed" \
	sh -c "[ \"\$(python3 $T/jget.py '$T/host.json' \"all(d['skipped'].get(k, 0) > 0 for k in ('unknown_free', 'double_free', 'failed_call', 'loss_gap', 'unsupported_op', 'too_large')) and d['inversions'] > 0\")\" = True ]"
is "hostile: events read = stat events; ideal peak = stat peak_live_bytes" \
	"$(jget "$T/host.json" "(d['events_read'], d['ideal_peak_bytes'])")" \
	"($(statget "$T/host.htape" events), $(statget "$T/host.htape" peak_live_bytes))"
check "hostile: the table lists the skipped events" grep -q 'skipped: .*unknown_free' "$T/host.table"
"$GEN" heap "$T/heap.htape" 3 20000 5
"$HEAPTAPE" replay "$T/heap.htape" $ALL --check-contents --json "$T/heap.json" >/dev/null 2>&1
rc=$?
check "Windows heap ops (HeapDestroy with live blocks): clean on $nall allocators, ideal = stat" \
	sh -c "[ $rc = 0 ] && [ \"\$(python3 $T/jget.py '$T/heap.json' \"(all(a['status'] == 'ok' for a in d['allocators']), d['ideal_peak_bytes'], d['events'])\")\" = \"(True, $(statget "$T/heap.htape" peak_live_bytes), $(statget "$T/heap.htape" events))\" ]"
# two processes with the same addresses: kept apart, or picked by --pid
"$GEN" pids "$T/pids.htape" 3 20000 6
"$HEAPTAPE" replay "$T/pids.htape" --json "$T/pids.json" >/dev/null
is "two processes: replayed side by side, events and ideal peak = stat" \
	"$(jget "$T/pids.json" "(d['processes'], d['events'], d['ideal_peak_bytes'], d['skipped'])")" \
	"(2, $(statget "$T/pids.htape" events), $(statget "$T/pids.htape" peak_live_bytes), {})"
"$HEAPTAPE" replay "$T/pids.htape" --pid 4343 --json "$T/pid1.json" >/dev/null
is "--pid 4343: only that process's events" \
	"$(jget "$T/pid1.json" "(d['processes'], d['events'])")" \
	"(1, $("$HEAPTAPE" cat --pid 4343 "$T/pids.htape" | wc -l))"
"$HEAPTAPE" replay "$T/mix.htape" "$T/pids.htape" --pid 4343 >"$T/pid2.table" 2>&1
is "--pid with several traces: the header names the process and its trace only" \
	"$(head -1 "$T/pid2.table" | sed 's/:.*//')" "replay of pid 4343 of $T/pids.htape"
"$GEN" mix "$T/many.htape" 2000 40000 7
timeout 120 "$HEAPTAPE" replay "$T/many.htape" -a glibc --check-contents \
	--json "$T/many.json" >/dev/null 2>&1
rc=$?
is "$(jget "$T/many.json" "d['threads']") replay threads with hand-offs: no deadlock, contents intact" \
	"$rc $(jget "$T/many.json" "(d['allocators'][0]['status'], d['allocators'][0]['content_errors'])")" \
	"0 ('ok', 0)"
sz=$(wc -c <"$T/mix.htape")
head -c $((sz * 2 / 3)) "$T/mix.htape" >"$T/cut.htape"
"$HEAPTAPE" replay "$T/cut.htape" --json "$T/cut.json" >/dev/null 2>"$T/err"
rc=$?
check "truncated trace: replays what is readable, warns with the offset, exit 0" \
	sh -c "[ $rc = 0 ] && grep -q 'offset [0-9]' '$T/err' && [ \"\$(python3 $T/jget.py '$T/cut.json' \"0 < d['events'] < $want_ev and d['allocators'][0]['status'] == 'ok'\")\" = True ]"
cp "$T/mix.htape" "$T/flip.htape"
printf '\377\377\377\377' | dd of="$T/flip.htape" bs=1 seek=$((sz / 2)) conv=notrunc 2>/dev/null
"$HEAPTAPE" replay "$T/flip.htape" >/dev/null 2>"$T/err"
rc1=$?
"$HEAPTAPE" replay "$T/flip.htape" --salvage >/dev/null 2>&1
rc2=$?
check "corrupt block: exit 1 naming the offset; --salvage replays around it (exit 0)" \
	sh -c "[ $rc1 = 1 ] && grep -q 'offset [0-9]' '$T/err' && [ $rc2 = 0 ]"

# --- a peak shorter than the RSS sampling period ----------------------
# 2000 blocks of 200 bytes, live for 50 ms in the program but for well
# under a millisecond in an as-fast-as-it-goes replay: the op that reaches
# the ideal peak reads the RSS itself, so glibc's peak RSS can never come
# out below the bytes it was asked to hold (fragmentation < 1).
HOLD=$T/hold
${CC:-cc} -O1 -o "$HOLD" "$HT_TOP/tests/replay/hold.c" 2>"$T/cc.err" || HOLD=
if [ -n "$HOLD" ] && [ -f "$HT_PRELOAD" ]; then
	"$HEAPTAPE" record -q -F -o "$T/hold.htape" -- "$HOLD" 2000 200
	low=
	for i in 1 2 3 4 5; do
		"$HEAPTAPE" replay "$T/hold.htape" -a glibc --json "$T/hold.json" \
			>/dev/null 2>&1
		low="$low $(jget "$T/hold.json" "(lambda a: a['peak_rss_bytes'] >= a['ideal_peak_bytes'] or a['peak_rss_bytes'])(d['allocators'][0])")"
	done
	is "short peak: glibc peak RSS >= ideal peak in 5 replays" "$low" \
		" True True True True True"
	"$HEAPTAPE" replay "$T/hold.htape" -a glibc --timing=recorded \
		--json "$T/holdr.json" >/dev/null 2>&1
	is "rss_series: 1 ms samples of a 50 ms replay, from (0, 0), none above the peak" \
		"$(jget "$T/holdr.json" "(lambda a: (a['rss_series'][0], len(a['rss_series']) >= 25, max(b for t, b in a['rss_series']) <= a['peak_rss_bytes'], a['rss_series'] == sorted(a['rss_series'])))(d['allocators'][0])")" \
		"([0.0, 0], True, True, True)"
else
	skip "short peak" "no compiler or no recorder"
	skip "rss_series of a short replay" "no compiler or no recorder"
fi

# --- many short threads under the window -------------------------------
# 1000 threads, 100 at a time.  The window keeps them in their recorded
# order; a thread waiting for it sleeps until its own turn, so the
# kernel time stays near that of --window 0 (before, every step of the
# window woke every waiting thread: 10x the CPU, nearly all futex).
CHURN=$T/churn
${CC:-cc} -O1 -pthread -o "$CHURN" "$HT_TOP/tests/replay/churn.c" 2>"$T/cc.err" || CHURN=
if [ -n "$CHURN" ] && [ -f "$HT_PRELOAD" ]; then
	"$HEAPTAPE" record -q -F -o "$T/churn.htape" -- "$CHURN" 10
	for w in 1024 0; do
		"$HEAPTAPE" replay "$T/churn.htape" -a glibc --repeat 3 \
			--window $w --json "$T/churn$w.json" >/dev/null 2>&1
	done
	s1=$(jget "$T/churn1024.json" "d['allocators'][0]['sys_s']")
	s0=$(jget "$T/churn0.json" "d['allocators'][0]['sys_s']")
	echo "# churn: sys s with --window 1024 $s1, with --window 0 $s0"
	# (2-3x on an idle box, more under load; 10x before the fix)
	check "1000 short threads: --window 1024 costs the kernel at most 4x --window 0 + 100 ms ($s1, $s0)" \
		python3 -c "import sys; sys.exit(not ($s1 <= 4 * $s0 + 0.1))"
	is "the harness's stall time is reported, within the wall time" \
		"$(jget "$T/churn1024.json" "(lambda a: 0 <= a['harness_stall_s'] <= a['wall_s'])(d['allocators'][0])")" \
		True
else
	skip "many short threads under the window" "no compiler or no recorder"
	skip "harness stall time" "no compiler or no recorder"
fi

# --- the real Android trace: 393 threads ------------------------------
SUI=$SHARED/data/android/systemui.txt.zst
if [ -f "$SUI" ] && "$HEAPTAPE" convert "$SUI" "$T/sui.htape" --from android >/dev/null 2>&1; then
	timeout 300 "$HEAPTAPE" replay "$T/sui.htape" $ALL --json "$T/sui.json" \
		>"$T/sui.table" 2>&1
	rc=$?
	check "systemui: replays on $nall allocators without deadlock (timeout 300 s)" \
		sh -c "[ $rc = 0 ] && [ \"\$(python3 $T/jget.py '$T/sui.json' \"(d['threads'], all(a['status'] == 'ok' and a['calls'] > 700000 for a in d['allocators']))\")\" = '(393, True)' ]"
	timeout 300 "$HEAPTAPE" replay "$T/sui.htape" $ALL --check-contents \
		--window 0 --json "$T/suic.json" >/dev/null 2>&1
	rc=$?
	is "systemui --check-contents --window 0 (hand-offs only): clean on $nall allocators" \
		"$rc $(jget "$T/suic.json" "sorted(set((a['status'], a['content_errors']) for a in d['allocators']))")" \
		"0 [('ok', 0)]"
	sed 's/^/# /' "$T/sui.table" | head -14
	zstd -dc "$SUI" | python3 -c '
import sys
live, cur, peak = {}, 0, 0
def add(p, n):
    global cur, peak
    if p == 0:
        return
    cur += n - live.get(p, 0)
    live[p] = n
    peak = max(peak, cur)
for line in sys.stdin:
    f = line.split()
    op = f[1]
    if op == "malloc":
        add(int(f[2], 16), int(f[3]))
    elif op == "calloc":
        add(int(f[2], 16), int(f[3]) * int(f[4]))
    elif op == "memalign":
        add(int(f[2], 16), int(f[4]))
    elif op == "realloc":
        new, old, n = int(f[2], 16), int(f[3], 16), int(f[4])
        if new == 0 and n != 0:
            continue                      # failed: nothing changes
        if old:
            cur -= live.pop(old, 0)
        add(new, n)
    elif op == "free":
        cur -= live.pop(int(f[2], 16), 0)
print(peak)' >"$T/sui.peak"
	check "systemui: ideal peak = python3 over the text ($(cat "$T/sui.peak"))" \
		sh -c "[ \"\$(python3 $T/jget.py '$T/sui.json' \"d['ideal_peak_bytes']\")\" = \"$(cat "$T/sui.peak")\" ]"
	"$HEAPTAPE" replay "$T/sui.htape" --timing=recorded >/dev/null 2>"$T/err"
	check "systemui: --timing=recorded refused (no real time), exit 1" \
		sh -c "[ $? = 1 ] && grep -q 'no real time' '$T/err'"
else
	skip "systemui replay" "no systemui trace or android import"
fi

# HeapDestroy, as stat (live.c) has it: heap 0 (the C heap) and a
# failed call release nothing; a heap's blocks freed there are neither
# timed nor counted as calls; a time before the first event's is not a
# time to sleep until.
hcsv() { # name, then rows after the header
	f=$T/$1.csv; shift
	echo "time_ns,pid,tid,op,heap,address,size,old_address,old_size,alignment,nmemb,result" >"$f"
	printf '%s\n' "$@" >>"$f"
	"$HEAPTAPE" convert "$f" "${f%.csv}.htape" || echo "# convert $f failed"
}
hcsv hd0 "100,1,1,malloc,,0x2000,64,,,,,ok" "200,1,1,malloc,,0x3000,64,,,,,ok" \
	"300,1,1,HeapDestroy,0x0,,,,,,,ok" "400,1,1,free,,0x2000,,,,,,ok" \
	"500,1,1,free,,0x3000,,,,,,ok"
"$HEAPTAPE" replay --json "$T/hd0.json" "$T/hd0.htape" >/dev/null 2>&1
is "HeapDestroy of heap 0 frees no C-heap block: both frees replayed" \
	"$(jget "$T/hd0.json" "(d['events'], d['skipped'], d['heap_blocks'], d['allocators'][0]['calls'])")" \
	"(5, {}, 0, 4)"
hcsv hdf "100,1,1,HeapCreate,0x10,,,,,,,ok" "200,1,1,HeapAlloc,0x10,0x1000,64,,,,,ok" \
	"300,1,1,HeapDestroy,0x10,,,,,,,failed" "400,1,1,HeapFree,0x10,0x1000,,,,,,ok" \
	"500,1,1,HeapDestroy,0x10,,,,,,,ok"
"$HEAPTAPE" replay --json "$T/hdf.json" "$T/hdf.htape" >/dev/null 2>&1
is "a failed HeapDestroy releases nothing: counted as failed_call, the HeapFree replayed" \
	"$(jget "$T/hdf.json" "(d['skipped'], d['heap_blocks'], d['allocators'][0]['calls'])")" \
	"({'failed_call': 1}, 0, 2)"
hcsv hdk "100,1,1,HeapCreate,0x10,,,,,,,ok" "110,1,1,HeapCreate,0x20,,,,,,,ok" \
	"120,1,1,HeapAlloc,0x10,0x1000,64,,,,,ok" "130,1,1,HeapAlloc,0x20,0x1000,32,,,,,ok" \
	"140,1,1,HeapAlloc,0x10,0x2000,64,,,,,ok" "150,1,1,malloc,,0x1000,16,,,,,ok" \
	"160,1,1,HeapDestroy,0x10,,,,,,,ok" "170,1,1,HeapFree,0x20,0x1000,,,,,,ok" \
	"180,1,1,free,,0x1000,,,,,,ok" "190,1,1,HeapAlloc,0x10,0x1000,8,,,,,ok"
"$HEAPTAPE" replay --json "$T/hdk.json" "$T/hdk.htape" >/dev/null 2>&1
is "HeapDestroy frees its own heap's 2 blocks, untimed and uncounted; the same address elsewhere lives on" \
	"$(jget "$T/hdk.json" "(d['skipped'], d['heap_blocks'], d['allocators'][0]['calls'], d['allocators'][0]['ops']['free']['count'])")" \
	"({}, 2, 7, 2)"
hcsv hdt "1000000,1,1,HeapCreate,0x10,,,,,,,ok" "1000100,1,1,HeapAlloc,0x10,0x1000,64,,,,,ok" \
	"1000200,1,1,malloc,,0x2000,64,,,,,ok" "500,1,1,HeapDestroy,0x10,,,,,,,ok" \
	"1000300,1,1,free,,0x2000,,,,,,ok"
timeout 60 "$HEAPTAPE" replay --timing=recorded --speed 2 "$T/hdt.htape" >/dev/null 2>&1
is "--timing=recorded --speed 2: a HeapDestroy timed before the first event does not sleep" "$?" 0
# a trace cut inside its header: one line, exit 1
head -c 10 "$T/hd0.htape" >"$T/cuthdr.htape"
"$HEAPTAPE" replay "$T/cuthdr.htape" >/dev/null 2>"$T/err"
is "a trace cut in its header: exit 1, one line naming it" \
	"$? $(wc -l <"$T/err") $(grep -c "cuthdr.htape" "$T/err")" "1 1 1"
"$HEAPTAPE" replay --json - --csv "$T/hd0.htape" >/dev/null 2>&1
is "--json - with --csv (both on stdout): usage error" "$?" 2
# recorded latencies (duration_ns) of the calls replayed only: not of
# an unknown free, which replay skips
printf '%s\n' "time_ns,pid,tid,op,heap,address,size,old_address,old_size,alignment,nmemb,result,duration_ns" \
	"100,1,1,malloc,,0x2000,64,,,,,ok,50" "200,1,1,free,,0x2000,,,,,,ok,40" \
	"300,1,1,free,,0x9000,,,,,,ok,30" >"$T/lat.csv"
"$HEAPTAPE" convert "$T/lat.csv" "$T/lat.htape"
"$HEAPTAPE" replay --json "$T/lat.json" "$T/lat.htape" >/dev/null 2>&1
"$HEAPTAPE" replay "$T/lat.htape" 2>/dev/null | head -1 >"$T/lat.table"
is "a one-thread trace: '1 thread, 1 process'" \
	"$(sed 's/.*events, //; s/, asap.*//' "$T/lat.table")" "1 thread, 1 process"
is "recorded_ops counts the calls replayed, not the skipped unknown free" \
	"$(jget "$T/lat.json" "(d['skipped'], d['recorded_ops']['free']['count'], d['recorded_ops']['free']['max_ns'], d['allocators'][0]['ops']['free']['count'])")" \
	"({'unknown_free': 1}, 1, 40, 1)"
echo "1..$n"
