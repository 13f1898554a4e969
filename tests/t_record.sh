#!/bin/sh
# t_record.sh - the recorder on real programs: each runs with and without
# `heaptape record`, and stdout, stderr and exit status must be the same
# byte for byte; every trace written must pass `heaptape verify` and hold
# the events.  python3 and sqlite3 are also counted against glibc mtrace
# on the same run (per kind of event).  Hostile programs: fork without
# exec, _exit, abort, a daemon that closes every fd, 1000 threads, a
# signal storm, dlopen/dlclose, RLIMIT_FSIZE, SIGKILL, death by a signal.
set -u
H=$HEAPTAPE
P=$HT_BUILD/tests/progs
T=$HT_TMP/record
mkdir -p "$T"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # what command...
	w=$1; shift
	if "$@"; then ok "$w"; else no "$w"; fi
}

# events in a trace (from verify's summary line), or -1
events() {
	"$H" verify "$1" 2>/dev/null |
		sed -n 's/.*: ok, \([0-9]*\) events.*/\1/p' | head -1 | grep . ||
		echo -1
}
# count of one op in a trace
opcount() {
	"$H" cat --op "$2" "$1" 2>/dev/null | wc -l | tr -d ' '
}
# a number of `stat --json` (statnum TRACE KEY), and a metadata value
statnum() {
	"$H" stat --json "$1" 2>/dev/null | tr -d '",' |
		awk -v k="$2:" '$1 == k { print $2 }'
}
meta() {
	"$H" stat --json "$1" 2>/dev/null | python3 -c \
		"import json, sys; print(json.load(sys.stdin)['meta'].get('$2', ''))"
}

# same NAME [ENV=V...] -- COMMAND...: runs COMMAND in $T/NAME plain and
# recorded (trace $T/NAME/trace.htape[.*]); checks output, status, verify.
same() {
	name=$1; shift
	envs=
	while [ "$1" != -- ]; do envs="$envs $1"; shift; done
	shift
	d=$T/$name
	rm -rf "$d"
	mkdir -p "$d"
	# exec: a shell reports a signal death of its own child ("Aborted")
	(cd "$d" && (exec env $envs "$@") >plain.out 2>plain.err
	 echo $? >plain.rc) 2>/dev/null
	(cd "$d" && env $envs "$H" record -q -o "$d/trace.htape" -- "$@" \
		>rec.out 2>rec.err
	 echo $? >rec.rc)
	if cmp -s "$d/plain.out" "$d/rec.out" &&
	   { [ -n "${NOERR:-}" ] || cmp -s "$d/plain.err" "$d/rec.err"; } &&
	   cmp -s "$d/plain.rc" "$d/rec.rc"; then
		ok "$name: same stdout, stderr, status ($(cat "$d/rec.rc")) with the recorder"
	else
		no "$name: same stdout, stderr, status with the recorder"
		diff "$d/plain.out" "$d/rec.out" | head -5 | sed 's/^/# /'
		diff "$d/plain.err" "$d/rec.err" | head -5 | sed 's/^/# /'
		echo "# status $(cat "$d/plain.rc") vs $(cat "$d/rec.rc")"
	fi
	bad=0 nt=0
	for f in "$d"/trace.htape*; do
		[ -f "$f" ] || continue
		nt=$((nt + 1))
		if ! "$H" verify "$f" >/dev/null 2>"$d/verify.err"; then
			bad=$((bad + 1))
			sed 's/^/# /' "$d/verify.err" | head -3
		fi
	done
	ev=$(events "$d/trace.htape")
	if [ "$nt" -gt 0 ] && [ "$bad" = 0 ] && [ "$ev" -gt 0 ]; then
		ok "$name: $nt trace(s) verify, $ev events in the first"
	else
		no "$name: traces verify and hold events ($nt traces, $bad bad, $ev events)"
	fi
}

# mtrace per-kind counts (alloc +, free -, realloc < or !).  The trailing
# run of frees from libc and ld.so is __libc_freeres, which mtrace alone
# runs at exit: counted apart as "exitfree".
cat >"$T/mt.awk" <<'EOF'
$1 == "@" { k = $3; sys = ($2 ~ /libc\.so|ld-linux/) } $1 != "@" { k = $1; sys = 0 }
k == "+" { a++; tail = 0 } k == "<" || k == "!" { r++; tail = 0 }
k == "-" { f++; if (sys) tail++; else tail = 0 }
END { printf "%d %d %d %d\n", a, f - tail, r, tail }
EOF
# the same kinds from `heaptape cat`: free(NULL) and failed posix_memalign
# are not in mtrace's log; realloc(NULL, n) is an alloc there and
# realloc(p, 0) a free.
cat >"$T/ht.awk" <<'EOF'
{
	op = $3; failed = ($0 ~ /FAILED/); old = ""; size = ""
	for (i = 4; i <= NF; i++) {
		if ($i ~ /^size=/) size = substr($i, 6)
		if ($i ~ /^0x/ && old == "") old = $i
	}
	if (op ~ /^free/) { if ($4 != "0x0") f++ }
	else if (op == "realloc" || op == "reallocarray") {
		if (old == "0x0" && !failed) a++
		else if (old != "0x0" && size == "0" && !failed) f++
		else r++
	} else if (op == "posix_memalign") { if (!failed) a++ }
	else if (op != "") a++
}
END { printf "%d %d %d\n", a, f, r }
EOF
cat >"$T/mtshim.c" <<'EOF'
#include <mcheck.h>
__attribute__((constructor)) static void on(void) { mtrace(); }
EOF
MTLIB=/lib/x86_64-linux-gnu/libc_malloc_debug.so
have_mtrace=0
if [ -f "$MTLIB" ] && cc -shared -fPIC -o "$T/mtshim.so" "$T/mtshim.c" 2>/dev/null; then
	have_mtrace=1
fi

# exact NAME [ENV=V...] -- COMMAND...: per-kind counts of the recorded run
# (in $T/NAME from `same`) against mtrace's on a run of its own.
exact() {
	name=$1; shift
	envs=
	while [ "$1" != -- ]; do envs="$envs $1"; shift; done
	shift
	d=$T/$name
	if [ "$have_mtrace" = 0 ]; then
		skip "$name: event counts equal mtrace's" "no libc_malloc_debug.so"
		return
	fi
	(cd "$d" && env $envs MALLOC_TRACE="$d/mt.log" \
		LD_PRELOAD="$MTLIB:$T/mtshim.so" "$@" >/dev/null 2>&1)
	set -- $(awk -f "$T/mt.awk" "$d/mt.log")
	ma=$1 mf=$2 mr=$3 mx=$4
	set -- $("$H" cat "$d/trace.htape" | awk -f "$T/ht.awk")
	ha=$1 hf=$2 hr=$3
	if [ "$ha" = "$ma" ] && [ "$hr" = "$mr" ] && [ "$hf" -ge "$mf" ] &&
	   [ "$hf" -le $((mf + mx)) ] && [ "$ha" -gt 100 ]; then
		ok "$name: allocs $ha, reallocs $hr, frees $hf = mtrace's ($ma, $mr, $mf + <= $mx at exit)"
	else
		no "$name: per-kind counts: heaptape $ha/$hf/$hr, mtrace $ma/$mf/$mr (+$mx exit frees)"
	fi
}

# --- real programs ---------------------------------------------------------
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
cat >"$T/work.py" <<'EOF'
import json, re
d = {str(i): [i, i * 2, {"k": "v" * (i % 7)}] for i in range(3000)}
s = json.dumps(d, sort_keys=True)
t = json.loads(s)
print(len(s), len(re.findall(r'"k"', s)), sorted(t)[:3], hash("heaptape"))
EOF
if [ -n "$PY" ]; then
	same python PYTHONHASHSEED=0 PYTHONMALLOC=malloc -- "$PY" "$T/work.py"
	exact python PYTHONHASHSEED=0 PYTHONMALLOC=malloc -- "$PY" "$T/work.py"
else
	skip "python: same output" "no python3"
fi

cat >"$T/work.sql" <<'EOF'
create table t(a integer primary key, b text);
with recursive c(x) as (select 1 union all select x+1 from c where x<3000)
  insert into t select x, printf('row %d', x) from c;
create index tb on t(b);
select count(*), sum(length(b)) from t where b like 'row 1%';
update t set b = b || '!' where a % 3 = 0;
delete from t where a % 5 = 0;
select count(*), max(b) from t;
EOF
if command -v sqlite3 >/dev/null; then
	same sqlite -- sqlite3 :memory: ".read $T/work.sql"
	exact sqlite -- sqlite3 :memory: ".read $T/work.sql"
else
	skip "sqlite: same output" "no sqlite3"
fi

cat >"$T/small.c" <<'EOF'
#include <stdio.h>
struct p { int x, y; };
static int sq(int v) { return v * v; }
int main(void) { struct p a = { 3, 4 }; printf("%d\n", sq(a.x) + sq(a.y)); return 0; }
EOF
same gcc -- gcc -O2 -c "$T/small.c" -o small.o
nt=$(ls "$T/gcc"/trace.htape* 2>/dev/null | wc -l)
[ "$nt" -ge 3 ] && ok "gcc: driver, cc1 and as each traced ($nt traces)" ||
	no "gcc: driver, cc1 and as each traced ($nt traces)"

# convert of gcc's three traces to one CSV: one header, every event,
# time_ns never decreasing, and each process's rows (time aside) as in
# its own trace's CSV
d=$T/gcc
set -- "$d/trace.htape" "$d"/trace.htape.*
"$H" convert --no-progress "$@" "$d/all.csv" 2>"$d/csv.err"; crc=$?
good=0 total=0
for f in "$@"; do
	"$H" convert --no-progress "$f" "$d/one.csv" 2>/dev/null
	p=$(meta "$f" process.pid)
	total=$((total + $(tail -n +2 "$d/one.csv" | wc -l)))
	tail -n +2 "$d/one.csv" | cut -d, -f2- >"$d/one.rows"
	awk -F, -v p="$p" 'NR > 1 && $2 == p' "$d/all.csv" | cut -d, -f2- |
		cmp -s - "$d/one.rows" && good=$((good + 1))
done
[ "$crc" = 0 ] && [ "$good" = $# ] &&
	[ "$(grep -c '^time_ns,' "$d/all.csv")" = 1 ] &&
	[ "$(($(wc -l <"$d/all.csv") - 1))" = "$total" ] &&
	awk -F, 'NR > 2 && $1 + 0 < last { exit 1 } NR > 1 { last = $1 + 0 }' "$d/all.csv" &&
	ok "convert of gcc's $# traces to one CSV: $total rows in time order, each process's as alone" ||
	no "convert of several traces to CSV: rc $crc, $good of $# processes as alone, $(wc -l <"$d/all.csv") lines for $total events"

# --interval over the same traces: buckets of all three processes, each
# one's blocks tracked apart: the allocations counted are the sums of
# each trace's own; the live bytes at the end are those of the process
# that ran last (the driver): the others had exited, their blocks gone
"$H" convert --no-progress --interval 1ms "$@" "$d/all_iv.csv" 2>/dev/null; crc=$?
sa=0 sl=0
plast=$(tail -1 "$d/all.csv" | cut -d, -f2)
for f in "$@"; do
	"$H" convert --no-progress --interval 1ms "$f" "$d/one_iv.csv" 2>/dev/null
	sa=$((sa + $(awk -F, 'NR > 1 { s += $2 } END { print s + 0 }' "$d/one_iv.csv")))
	[ "$(meta "$f" process.pid)" = "$plast" ] &&
		sl=$(statnum "$f" live_at_end_bytes)
done
ga=$(awk -F, 'NR > 1 { s += $2 } END { print s + 0 }' "$d/all_iv.csv")
gl=$(tail -1 "$d/all_iv.csv" | cut -d, -f7)
[ "$crc" = 0 ] && [ "$ga" = "$sa" ] && [ "$gl" = "$sl" ] && [ "$sa" -gt 0 ] &&
	ok "convert --interval of gcc's $# traces: $ga allocations (the sum of each), $gl bytes live at the end (the last process's)" ||
	no "convert --interval of several traces: rc $crc, allocs $ga vs $sa, live at end $gl vs $sl"

# Processes that ran one after the other (a shell running 16 pythons):
# reading their traces together holds the blocks of the ones running at
# the time, not a block of every trace, so cat and plot of all 17 take
# about the memory of one (before: a decoded block of each, 6 MiB a
# trace)
d=$T/seq
mkdir -p "$d"
rm -f "$d"/s.htape*
py=$(python3 -c 'import sys; print(sys.executable)') # not a wrapper
PYTHONMALLOC=malloc "$H" record -q -o "$d/s.htape" -- sh -c \
	'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do "$0" -c "x = [str(i) for i in range(150000)]"; done' "$py" \
	>/dev/null 2>&1
set -- "$d/s.htape" "$d"/s.htape.*
big=$(ls -S "$d"/s.htape.* | head -1)
# (under ASan, without the quarantine that keeps freed memory)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
	python3 - "$H" "$big" "$@" >"$d/rss" 2>&1 <<'EOF'
import resource, subprocess, sys
h, one, alls = sys.argv[1], sys.argv[2], sys.argv[3:]
def rss(args):
    # a fresh python3 per measurement: ru_maxrss of children is a max
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], "
            "stdout=subprocess.DEVNULL, check=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    return int(subprocess.run([sys.executable, "-c", code] + args,
                              capture_output=True, text=True, check=True).stdout)
for cmd in ("cat", "plot"):
    extra = ["-o", sys.argv[3] + ".svg"] if cmd == "plot" else []
    a, b = rss([h, cmd] + extra + [one]), rss([h, cmd] + extra + alls)
    print(cmd, a, b, "ok" if b < a + 40 * 1024 else "too much")
EOF
[ $# -ge 17 ] && [ "$(grep -c ' ok$' "$d/rss")" = 2 ] &&
	ok "cat and plot of 17 sequential processes' traces: about one trace's memory ($(tr '\n' ' ' <"$d/rss")KB)" ||
	no "cat/plot of sequential traces: $# traces; $(tr '\n' ' ' <"$d/rss")"
set --

# the recorded peak RSS includes the recorder's own memory (its pool,
# writer, zstd, code): the trace says how much, and what is left is the
# program's own peak, as measured without the recorder
d=$T/ownrss
rm -rf "$d"
mkdir -p "$d"
"$H" record -q -o "$d/t.htape" -- "$P/holdmem" 2000 10000
plain=$(python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)' "$P/holdmem" 2000 10000)
peak=$(statnum "$d/t.htape" recorded_peak_rss_bytes)
own=$(statnum "$d/t.htape" recorder_rss_bytes)
"$H" stat "$d/t.htape" >"$d/stat.txt"
case "$own" in ''|*[!0-9]*) own=-1 ;; esac
[ "$own" -gt 500000 ] && [ "$own" -lt "${peak:-0}" ] &&
	[ $((peak - own - plain)) -lt 1048576 ] && [ $((plain - (peak - own))) -lt 1048576 ] &&
	grep -q "^recorded RSS   peak $peak bytes (.*; .* of it the recorder's), [0-9]* samples$" "$d/stat.txt" &&
	ok "holdmem: recorded RSS peak $peak, $own of it the recorder's: the rest within 1 MiB of the program's own $plain" ||
	no "holdmem: recorded RSS peak '$peak', recorder's '$own', unrecorded peak $plain: $(grep RSS "$d/stat.txt")"

# --only (HEAPTAPE_ONLY): of gcc's three programs only cc1 is recorded;
# the others run untouched and leave no trace.  A pattern that matches
# no process: record says so.
same gcc-only HEAPTAPE_ONLY='cc1*' -- gcc -O2 -c "$T/small.c" -o small.o
f=$T/gcc-only/trace.htape
nt=$(ls "$T/gcc-only"/trace.htape* 2>/dev/null | wc -l)
exe=$(meta "$f" process.exe)
[ "$nt" = 1 ] && [ "${exe##*/}" = cc1 ] && [ "$(events "$f")" -gt 1000 ] &&
	case $(meta "$f" recorder.options) in *"only=cc1*"*) true ;; *) false ;; esac &&
	ok "gcc --only 'cc1*': one trace, cc1's ($(events "$f") events)" ||
	no "gcc --only 'cc1*': $nt traces, exe '$exe'"
d=$T/only-none
rm -rf "$d" && mkdir -p "$d"
(cd "$d" && "$H" record --only nomatch -o "$d/t.htape" -- sh -c 'echo x' \
	>"$d/out" 2>"$d/err"; echo $? >"$d/rc")
[ "$(cat "$d/rc")" = 0 ] && [ "$(cat "$d/out")" = x ] && [ ! -e "$d/t.htape" ] &&
	grep -q "no trace written to '$d/t.htape' (no process matched --only 'nomatch')" "$d/err" &&
	ok "--only matching no process: the program runs, record says why there is no trace" ||
	no "--only matching nothing: rc $(cat "$d/rc"), '$(cat "$d/err")'"

same pipeline -- sh -c 'seq 1 1000 | sort -r | head -3; echo done >&2'

# --- test programs -----------------------------------------------------------
same prodcons -- "$P/prodcons" 2 20000
d=$T/prodcons
set -- $("$H" stat --json "$d/trace.htape" | tr -d '",' |
	awk '$1 == "unknown_frees:" { u = $2 } $1 == "threads:" { t = $2 }
	     END { print u + 0, t + 0 }')
[ "$1" = 0 ] && [ "$2" -ge 5 ] &&
	[ "$(opcount "$d/trace.htape" malloc)" -ge 40000 ] &&
	[ "$(opcount "$d/trace.htape" free)" -ge 40000 ] &&
	ok "prodcons: 40000 cross-thread frees, no unknown frees, $2 threads" ||
	no "prodcons: cross-thread frees all known (unknown $1, threads $2)"

# forks while three threads allocate: every child's trace has its own
# 1000 mallocs (and none of the parent's threads')
same mtfork -- "$P/mtfork" 50
nt=0 good=0
for f in "$T/mtfork"/trace.htape.*; do
	[ -f "$f" ] || continue
	nt=$((nt + 1))
	[ "$("$H" cat --op malloc "$f" | grep -c 'size=4321 ')" = 1000 ] &&
		[ "$("$H" cat --op malloc "$f" | grep -c 'size=64 ')" = 0 ] &&
		good=$((good + 1))
done
[ "$nt" = 50 ] && [ "$good" = 50 ] &&
	ok "mtfork: 50 children traced while threads allocate, each with its 1000 mallocs" ||
	no "mtfork: child traces ($nt of 50, $good with their own 1000 mallocs)"

same forker -- "$P/forker" 10000
d=$T/forker
child=$(ls "$d"/trace.htape.* 2>/dev/null | head -1)
if [ -n "$child" ]; then
	puuid=$("$H" stat --json "$child" | sed -n 's/.*"process.parent_trace_uuid": "\([0-9a-f]*\)".*/\1/p')
	hdr=$(od -An -tx1 -N64 "$d/trace.htape" | tr -d ' \n')
	case $hdr in
	*"$puuid"*) [ -n "$puuid" ] &&
		ok "forker: child trace linked to the parent's UUID" ||
		no "forker: child trace has a parent UUID" ;;
	*) no "forker: child's parent_trace_uuid ($puuid) is the parent's" ;;
	esac
	[ "$(opcount "$child" realloc)" = 10000 ] &&
		ok "forker: child trace has its 10000 reallocs" ||
		no "forker: child trace has its 10000 reallocs ($(opcount "$child" realloc))"
else
	no "forker: a trace for the forked child"
	no "forker: child trace has its events"
fi

# stat on a process and its children: each trace's report, then one
# line per trace, parent first (by start time), with its own pid and
# events, and a total; --json: an array of the same reports.  A missing
# trace among them: reported, the others still are, exit 1.
d=$T/mtfork
set -- "$d/trace.htape" "$d"/trace.htape.*
"$H" stat "$@" >"$d/fam.txt" 2>"$d/fam.err"; frc=$?
"$H" stat --json "$@" >"$d/fam.json" 2>>"$d/fam.err" || frc=1
exp=$(for f in "$@"; do
	printf '%s %s %s\n' "$(meta "$f" process.pid)" "$(statnum "$f" events)" "$f"
done | sort -n)
got=$(awk '$1 == "pid" && $2 == "ppid" { on = 1; next }
	on && $1 == "total" { print "total", $2; exit }
	on { sub(",", "", $NF); print $1, $3, $(NF - 1) }' "$d/fam.txt" |
	sed 's/,$//')
sum=$(echo "$exp" | awk '{ s += $2 } END { print s }')
first=$(echo "$got" | head -1 | cut -d' ' -f1)
jsum=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(len(d), sum(x["events"] for x in d))' "$d/fam.json")
[ "$frc" = 0 ] && [ $# -ge 2 ] &&
	[ "$(echo "$got" | grep -v total | sort -n)" = "$exp" ] &&
	[ "$(echo "$got" | tail -1)" = "total $sum" ] &&
	[ "$first" = "$(meta "$d/trace.htape" process.pid)" ] &&
	[ "$jsum" = "$# $sum" ] &&
	ok "stat of mtfork and its $(($# - 1)) children: a line each, parent first, total $sum; --json array" ||
	no "stat of several traces: rc $frc, lines '$got', expected '$exp' (total $sum), json '$jsum'"
# cat of the same traces: one time order (ts never decreases), every
# event once, and each process's events in its own trace's order
"$H" cat "$@" >"$d/fam.cat" 2>"$d/fam.cerr"; frc=$?
good=0
for f in "$@"; do
	p=$(meta "$f" process.pid)
	"$H" cat "$f" >"$d/one.cat"
	awk -v p="$p/" 'index($2, p) == 1' "$d/fam.cat" | cmp -s - "$d/one.cat" &&
		good=$((good + 1))
done
[ "$frc" = 0 ] && [ "$good" = $# ] &&
	[ "$(wc -l <"$d/fam.cat")" = "$sum" ] &&
	awk '{ split($1, t, "."); v = t[1] * 1e9 + t[2]
	       if (NR > 1 && v < last) exit 1; last = v }' "$d/fam.cat" &&
	ok "cat of mtfork and its children: $sum events in one time order, each process's as in its trace" ||
	no "cat of several traces: rc $frc, $good of $# processes in order, $(wc -l <"$d/fam.cat") of $sum lines"
"$H" stat "$d/trace.htape" "$d/none.htape" "$1" >"$d/fam2.txt" 2>"$d/fam2.err"; frc=$?
[ "$frc" = 1 ] && grep -q "none.htape" "$d/fam2.err" &&
	[ "$(grep -c '^trace ' "$d/fam2.txt")" = 2 ] &&
	grep -q "2 traces (the others" "$d/fam2.txt" &&
	ok "stat of several traces, one missing: the others reported, exit 1" ||
	no "stat with a missing trace: rc $frc, '$(cat "$d/fam2.err")'"

same exiter -- "$P/exiter" 5000
m=$(opcount "$T/exiter/trace.htape" malloc)
[ "$m" -ge 5000 ] && ok "exiter: _exit keeps every event ($m mallocs)" ||
	no "exiter: _exit keeps every event ($m mallocs)"

# quick_exit runs no destructor: the trace still ends, after the
# program's own at_quick_exit handlers
same exiter-quick -- "$P/exiter" 5000 quick
f=$T/exiter-quick/trace.htape
m=$(opcount "$f" malloc)
k=$("$H" cat --op malloc "$f" 2>/dev/null | grep -c 'size=777 ')
[ "$m" -ge 5100 ] && [ "$k" = 100 ] &&
	ok "exiter quick_exit: every event kept, the handler's 100 too ($m mallocs)" ||
	no "exiter quick_exit: every event kept ($m mallocs, $k of the handler's 100)"

same aborter -- "$P/aborter"
m=$(opcount "$T/aborter/trace.htape" malloc)
s=$(meta "$T/aborter/trace.htape" process.end_signal)
[ "$m" -ge 3000 ] && [ "$s" = SIGABRT ] && ok "aborter: abort keeps every event ($m mallocs), the trace names SIGABRT" ||
	no "aborter: abort keeps every event ($m mallocs), end signal '$s'"

# main() leaving by pthread_exit(): the process ends with its last
# thread, not kept alive by the recorder's own
# (outside same(): a process kept alive answers no signal but KILL)
rm -rf "$T/mainexit"; mkdir -p "$T/mainexit"
"$P/mainexit" >"$T/mainexit/plain.out" 2>&1
timeout -s KILL 60 "$H" record -q -o "$T/mainexit/trace.htape" -- \
	"$P/mainexit" >"$T/mainexit/rec.out" 2>&1
rc=$?
c=$(statnum "$T/mainexit/trace.htape" events)
[ $rc = 0 ] && cmp -s "$T/mainexit/plain.out" "$T/mainexit/rec.out" &&
	[ "${c:-0}" -ge 200000 ] &&
	"$H" verify "$T/mainexit/trace.htape" 2>/dev/null | grep -q complete &&
	ok "mainexit: the process ends with its thread, same output, a complete trace ($c events)" ||
	no "mainexit: status $rc, $c events"
# fork() in a signal handler that interrupted malloc or free: the
# children run on
same sigfork -- "$P/sigfork" 20
# a program's own file put on the recorder's fd numbers (1000: RSS
# sampler, 1001: trace): it gets its bytes and its close, nothing more
same fdplace-1000 -- "$P/fdplace" 1000
same fdplace-1001 -- "$P/fdplace" 1001
# ... again and again, on whatever number the trace is at, while the
# encoder writes: dup2 and dup3 move the trace out of the way first
same fdrace -- "$P/fdrace" 0 20000
c=$(statnum "$T/fdrace/trace.htape" events)
"$H" verify "$T/fdrace/trace.htape" 2>/dev/null | grep -q complete &&
	[ "${c:-0}" -ge 100000 ] &&
	ok "fdrace: the trace is whole ($c events) after 20000 dup2s on its fd" ||
	no "fdrace: trace of $c events, or not complete"
# RLIMIT_FSIZE 0: the recorder writes nothing and the program does not
# die of SIGXFSZ (the trace is made before the program runs)
(ulimit -f 0; "$P/exiter" 100 >/dev/null 2>&1; echo $? >"$T/fs0.plain")
(ulimit -f 0; "$H" record -q -o "$T/fs0.htape" -- "$P/exiter" 100 >/dev/null 2>&1; echo $? >"$T/fs0.rec")
[ "$(cat "$T/fs0.plain")" = "$(cat "$T/fs0.rec")" ] &&
	ok "ulimit -f 0: the program's status ($(cat "$T/fs0.rec")) as without the recorder" ||
	no "ulimit -f 0: status $(cat "$T/fs0.rec"), without the recorder $(cat "$T/fs0.plain")"

# Death by a signal left at its default action: same status (and core)
# as without the recorder, and a trace closed with an END block that
# holds every event and names the signal (before, it lost up to a flush
# interval and had no END block).
for m in segv:SIGSEGV thread:SIGSEGV term:SIGTERM pipe:SIGPIPE; do
	same "sigdie-${m%%:*}" -- "$P/sigdie" "${m%%:*}" 3000
	f=$T/sigdie-${m%%:*}/trace.htape
	k=$("$H" cat --op malloc "$f" 2>/dev/null | grep -c 'size=12345 ')
	s=$(meta "$f" process.end_signal)
	[ "$k" = 3000 ] && [ "$s" = "${m#*:}" ] &&
		ok "sigdie ${m%%:*}: all 3000 mallocs before the $s kept, the trace names it" ||
		no "sigdie ${m%%:*}: mallocs kept ($k of 3000), end signal '$s'"
done
# the shell sees record's status, not the signal: record says it
"$H" record -o "$T/sigdie-segv/said.htape" -- "$P/sigdie" segv 10 \
	>/dev/null 2>"$T/sigdie-segv/said.err"
rc=$?
[ $rc = 139 ] && grep -q "sigdie died of SIGSEGV (Segmentation fault)" "$T/sigdie-segv/said.err" &&
	ok "record says that PROG died of SIGSEGV, returns 139" ||
	no "record says that PROG died of SIGSEGV (status $rc: $(head -1 "$T/sigdie-segv/said.err"))"
# a one-shot handler (SA_RESETHAND) that raises the signal again, as
# node's for ^C and SIGTERM: it runs, sees SIG_DFL, the process dies of
# the signal and its trace is complete
same sigdie-oneshot -- "$P/sigdie" oneshot 3000
f=$T/sigdie-oneshot/trace.htape
k=$("$H" cat --op malloc "$f" 2>/dev/null | grep -c 'size=12345 ')
grep -q 'handler: SIGTERM is SIG_DFL now' "$T/sigdie-oneshot/rec.out" &&
	[ "$k" = 3000 ] && [ "$(meta "$f" process.end_signal)" = SIGTERM ] &&
	ok "sigdie oneshot: SA_RESETHAND handler ran on SIG_DFL, 3000 mallocs kept, died of SIGTERM" ||
	no "sigdie oneshot: handler saw SIG_DFL, mallocs kept ($k), end signal '$(meta "$f" process.end_signal)'"
# the program sees SIG_DFL where the recorder's handler is, its own
# handlers and SIG_IGN work, an inherited SIG_IGN stays
same sigdie-view -- sh -c "trap '' HUP; exec '$P/sigdie' view 100"
grep -q 'SIGUSR1 handled: 1' "$T/sigdie-view/rec.out" &&
	grep -q 'Interrupt: SIG_DFL' "$T/sigdie-view/rec.out" &&
	grep -q 'alive, SIGHUP SIG_IGN' "$T/sigdie-view/rec.out" &&
	grep -q 'read after siginterrupt: EINTR' "$T/sigdie-view/rec.out" &&
	ok "sigdie view: SIG_DFL shown, own handler ran, inherited SIG_IGN kept, siginterrupt honoured" ||
	no "sigdie view: dispositions as without the recorder"
# a SIGSEGV handler of the program's own that siglongjmps: it goes on
same sigdie-recover -- "$P/sigdie" recover 1000
k=$("$H" cat --op malloc "$T/sigdie-recover/trace.htape" 2>/dev/null |
	grep -c 'size=12345 ')
[ "$k" = 2000 ] && [ -z "$(meta "$T/sigdie-recover/trace.htape" process.end_signal)" ] &&
	ok "sigdie recover: own SIGSEGV handler, 2000 mallocs, no end signal" ||
	no "sigdie recover: 2000 mallocs ($k), no end signal"
# Python catches ^C (KeyboardInterrupt), then sets SIG_DFL and dies of
# SIGINT: the recorder's handler is back under that SIG_DFL
if [ -n "$PY" ]; then
	same python-sigint PYTHONMALLOC=malloc -- "$PY" -c \
		'import os, signal; l = [str(i) for i in range(5000)]; os.kill(os.getpid(), signal.SIGINT)'
	s=$(meta "$T/python-sigint/trace.htape" process.end_signal)
	[ "$s" = SIGINT ] && ok "python ^C: trace complete, died of SIGINT" ||
		no "python ^C: trace names SIGINT ('$s')"
else
	skip "python ^C" "no python3"
fi

# The allocator under the hooks is named: glibc, or one linked or
# preloaded after the recorder (with its own version string)
a=$(meta "$T/prodcons/trace.htape" allocator.name)
[ "$a" = glibc ] && ok "allocator: glibc named" || no "allocator: glibc named ('$a')"
for so in jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 \
	  tcmalloc:libtcmalloc_minimal.so.4; do
	lib=$(ls /usr/lib/*/"${so#*:}" 2>/dev/null | head -1)
	if [ -z "$lib" ]; then
		skip "allocator: ${so%%:*} named" "${so#*:} not installed"
		continue
	fi
	d=$T/alloc-${so%%:*}
	rm -rf "$d"; mkdir -p "$d"
	# the allocator after ours in the program's LD_PRELOAD (not in
	# heaptape's own: that one may be built with ASan)
	"$H" record -q -o "$d/t.htape" -- sh -c \
		"LD_PRELOAD=\"\$LD_PRELOAD:$lib\" exec '$P/prodcons' 2 2000" \
		>/dev/null 2>&1
	f=$(ls "$d"/t.htape.* 2>/dev/null | head -1)
	a=$(meta "$f" allocator.name)
	v=$(meta "$f" allocator.version)
	m=$(opcount "$f" malloc)
	[ "$a" = "${so%%:*}" ] && [ -n "$v" ] && [ "$m" -ge 4000 ] &&
		ok "allocator: ${so%%:*} $v named, $m mallocs recorded" ||
		no "allocator: ${so%%:*} named ('$a' '$v', $m mallocs)"
done
# A malloc of the program's own shadows the hooks: it runs as before,
# and record says that nothing could be seen instead of a silent 0
d=$T/ownmalloc
rm -rf "$d"; mkdir -p "$d"
"$P/ownmalloc" >"$d/plain.out" 2>&1
"$H" record -q -o "$d/t.htape" -- "$P/ownmalloc" >"$d/rec.out" 2>"$d/rec.err"
rc=$?
[ $rc = 0 ] && cmp -s "$d/plain.out" "$d/rec.out" &&
	grep -q "warning: '.*t.htape': malloc is .*ownmalloc's own" "$d/rec.err" &&
	[ "$(meta "$d/t.htape" allocator.name)" = ownmalloc ] &&
	[ "$(events "$d/t.htape")" = 0 ] &&
	ok "ownmalloc: runs as before, record warns that its malloc is its own" ||
	no "ownmalloc: a warning for a malloc the hooks cannot see (rc $rc: $(cat "$d/rec.err"))"

# RLIMIT_AS: the recorder maps what it uses, not a 1 GiB (or 256 MiB)
# reserve, so a program with 250 MB of address space is recorded; with
# 60 MB it is left alone (the recorder would take what the program
# needs) and runs as before
same aslimit-250m -- sh -c "ulimit -v 250000 && exec '$P/prodcons' 2 2000"
f=$(ls "$T/aslimit-250m"/trace.htape.* 2>/dev/null | head -1)
m=$([ -n "$f" ] && opcount "$f" malloc || echo 0)
[ "$m" -ge 4000 ] && ok "RLIMIT_AS 250 MB: the program's trace has its $m mallocs" ||
	no "RLIMIT_AS 250 MB: the program is recorded ($m mallocs in '$f')"
same aslimit-60m -- sh -c "ulimit -v 60000 && exec '$P/prodcons' 2 2000"
[ -z "$(ls "$T/aslimit-60m"/trace.htape.* 2>/dev/null)" ] &&
	ok "RLIMIT_AS 60 MB: the program is left alone (no trace of its own)" ||
	no "RLIMIT_AS 60 MB: no trace for the program"

# an executable with malloc's PLT entry as its "malloc" (not PIE, takes
# the address: node) is no malloc of its own: recorded, no warning
same mallocptr -- "$P/mallocptr"
f=$T/mallocptr/trace.htape
k=$("$H" cat --op malloc "$f" 2>/dev/null | grep -c 'size=2468 ')
[ "$k" = 1000 ] && [ -z "$(meta "$f" recorder.warning)" ] &&
	[ "$(meta "$f" allocator.name)" = glibc ] &&
	ok "mallocptr: malloc through a PLT address recorded (1000), no warning" ||
	no "mallocptr: $k of 1000 mallocs, warning '$(meta "$f" recorder.warning)'"

# A program the preload library cannot enter runs as before, and record
# says why there is no trace: statically linked (directly or as a
# script's interpreter), 32-bit, or set-user-ID to another user (the
# loader ignores LD_PRELOAD).
# untraced WHAT RC OUT WHY PROG [ARGS]: record runs ./PROG in $d with
# status RC and stdout OUT ("-": not checked), writes no $d/PROG.htape,
# and its last line has WHY (a grep pattern)
untraced() {
	w=$1 wrc=$2 wout=$3 why=$4; shift 4
	(cd "$d" && "$H" record -o "$d/$1.htape" -- "./$@" \
		>"$d/$1.out" 2>"$d/$1.err"; echo $? >"$d/$1.rc")
	[ "$(cat "$d/$1.rc")" = "$wrc" ] && [ ! -e "$d/$1.htape" ] &&
	{ [ "$wout" = - ] || [ "$(cat "$d/$1.out")" = "$wout" ]; } &&
	grep -q "no trace written to '$d/$1.htape' ($why" "$d/$1.err" &&
	ok "untraced: $w: same status and output, record says why" ||
	no "untraced: $w: rc $(cat "$d/$1.rc"), '$(cat "$d/$1.err")'"
}
d=$T/untraced
rm -rf "$d" && mkdir -p "$d"
printf '#include <stdio.h>\n#include <stdlib.h>\nint main(void) { free(malloc(9)); puts("static"); return 3; }\n' >"$d/s.c"
if gcc -static -o "$d/static" "$d/s.c" 2>"$d/cc.err"; then
	printf '#!%s\n' "$d/static" >"$d/script"
	chmod +x "$d/script"
	untraced "a static program" 3 static "'./static' is statically linked" static
	untraced "a script whose interpreter is static" 3 static \
		"'$d/static' is statically linked" script
else
	no "untraced: gcc -static: $(head -1 "$d/cc.err")"
	no "untraced: script (not run)"
fi
# 32-bit: a static program of three instructions, made with binutils
# alone (no multilib needed)
if [ "$(uname -m)" = x86_64 ]; then
	printf '.globl _start\n_start:\n mov $1, %%eax\n mov $3, %%ebx\n int $0x80\n' >"$d/e32.s"
	if ! { as --32 -o "$d/e32.o" "$d/e32.s" &&
	       ld -m elf_i386 -o "$d/e32" "$d/e32.o"; }; then
		no "untraced: as --32 / ld -m elf_i386 failed"
	elif ! (cd "$d" && ./e32 2>/dev/null; [ $? = 3 ]); then
		skip "untraced: a 32-bit program" "this kernel runs no 32-bit programs"
	else
		untraced "a 32-bit program" 3 - \
			"'./e32' is built for another machine or word size" e32
	fi
else
	skip "untraced: a 32-bit program" "x86_64 only"
fi
if [ "$(id -u)" = 0 ]; then
	cp "$P/prodcons" "$d/suid" && chown 65534 "$d/suid" && chmod 4755 "$d/suid"
	untraced "a set-user-ID program" 0 - \
		"'./suid' runs with other privileges, set-user-ID" suid 2 100
else
	skip "untraced: a set-user-ID program" "needs root to chown"
fi

same closer -- "$P/closer" 400 100000
m=$(opcount "$T/closer/trace.htape" malloc)
[ "$m" -ge 100000 ] && ok "closer: events after the program closed every fd ($m mallocs)" ||
	no "closer: events after the program closed every fd ($m mallocs)"

same threads -- "$P/threads" 1000 50
set -- $("$H" stat --json "$T/threads/trace.htape" | tr -d '",' |
	awk '$1 == "threads:" { t = $2 } $1 == "lost_events:" { l = $2 }
	     END { print t + 0, l + 0 }')
m=$(opcount "$T/threads/trace.htape" malloc)
[ "$1" -ge 1000 ] && [ "$2" = 0 ] && [ "$m" -ge 50000 ] &&
	ok "threads: 1000 threads recorded, none lost ($1 threads, $m mallocs)" ||
	no "threads: 1000 threads recorded ($1 threads, $2 lost, $m mallocs)"

# a thread per request: every event and every thread's name at exit (set
# by prctl, which no hook sees) kept; and a short-lived thread costs the
# recorder no file of its own (no /proc read at exit) and no herd of
# futex wake-ups (producers waiting for buffers woken all at once for
# each buffer returned: about 15 a thread before)
same churn -- "$P/churn" 1000
f=$T/churn/trace.htape
got=$("$H" stat --json "$f" | python3 -c '
import json, sys
d = json.load(sys.stdin)
w = [t for t in d["per_thread"] if t["tid"] != t["pid"]]
names = set(t["name"] for t in w) == set("c%d" % i for i in range(1000))
print(len(w), names, sum(t["allocs"] for t in w), d["lost_events"])')
[ "$got" = "1000 True 2000000 0" ] &&
	ok "churn: 1000 threads, each with its own name at exit, 2000000 mallocs, none lost" ||
	no "churn: threads, named, names, mallocs, lost: $got"
if command -v strace >/dev/null; then
	# (LeakSanitizer cannot run under ptrace: off in `make asan`)
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -o "$T/churn/strace" -e trace=futex,openat \
		"$H" record -q -F -o "$T/churn/s.htape" -- "$P/churn" 1000 >/dev/null
	fx=$(grep -c 'futex(' "$T/churn/strace")
	comm=$(grep -c '/comm"' "$T/churn/strace")
	[ "$fx" -lt 5000 ] && [ "$comm" -lt 100 ] &&
		ok "churn: 1000 threads cost $fx futex calls (< 5000) and $comm /proc comm reads (< 100)" ||
		no "churn: 1000 threads cost $fx futex calls (want < 5000) and $comm /proc comm reads (want < 100)"
else
	skip "churn: futex calls and /proc reads per thread" "no strace"
fi

# the encoder thread's CPU time is in the trace (recorder.cpu_ns), for
# the parent and a forked child, and stat and record's last line show
# it per event; it is under the CPU time of the whole recorded run
d=$T/cpu
rm -rf "$d" && mkdir -p "$d"
/usr/bin/time -f '%U %S' -o "$d/time" "$H" record -o "$d/t.htape" -- \
	"$P/prodcons" 2 100000 >/dev/null 2>"$d/err"
pc=$(meta "$d/t.htape" recorder.cpu_ns)
sec=$(awk -v c="$pc" 'BEGIN { printf "%.3f", c / 1e9 }')
cc=$(meta "$T/mtfork/$(ls "$T/mtfork" | grep 'trace.htape\.' | head -1)" recorder.cpu_ns)
tot=$(awk '{ printf "%.0f", ($1 + $2) * 1e9 }' "$d/time" 2>/dev/null)
case "$pc$cc" in *[!0-9]*|"") pc=-1 ;; esac
[ "$pc" -gt 0 ] && [ "${cc:-0}" -gt 0 ] && [ "$pc" -le "${tot:-0}" ] &&
	"$H" stat "$d/t.htape" | grep -Eq '^recorder CPU +[0-9.]+ s encoding and writing \([0-9.]+ ns/event\)' &&
	tail -1 "$d/err" | grep -Eq ", recorder CPU $sec s \([0-9]+ ns/event\), none lost$" &&
	ok "recorder.cpu_ns: encoder CPU in the trace ($pc ns of $tot), also a child's ($cc)" ||
	no "recorder.cpu_ns: parent '$pc', child '$cc', run's CPU '$tot'"

# 32 threads that pause between bursts, as a server's do: blocks take
# the buffers a thread filled, not a few events of every thread each
# time the encoder wakes (about 130 events a block before, 1400 now).
same paused -- "$P/threads" 32 8000 32 200
set -- $("$H" stat --json "$T/paused/trace.htape" | tr -d '",' |
	awk '$1 == "events:" { e = $2 } $1 == "blocks:" { b = $2 }
	     END { print e + 0, b + 0 }')
[ "$2" -gt 0 ] && [ "$1" -ge 512000 ] && [ $(($1 / $2)) -ge 400 ] &&
	ok "paused threads: $(($1 / $2)) events a block ($1 events, $2 blocks)" ||
	no "paused threads: events a block ($1 events, $2 blocks; want 400+)"

NOERR=1 same sigstorm -- "$P/sigstorm" 200000
d=$T/sigstorm
h=$(sed -n 's/sigstorm: \([0-9]*\) handler calls/\1/p' "$d/rec.err")
m=$(opcount "$d/trace.htape" malloc)
lost=$(statnum "$d/trace.htape" lost_events)
[ -n "$h" ] && [ "$m" -ge $((200000 + h - lost)) ] &&
	ok "sigstorm: handler allocations recorded ($h handlers, $m mallocs, $lost lost)" ||
	no "sigstorm: handler allocations recorded ($h handlers, $m mallocs, $lost lost)"

# Handlers whose event takes two records, on a buffer's last slot or
# while the interrupted hook publishes: every event recorded or counted
# lost (one each), and no record that nobody wrote.
NOERR=1 same sigstorm2 -- "$P/sigstorm2" 3000000
d=$T/sigstorm2
h=$(sed -n 's/sigstorm2: \([0-9]*\) handler calls/\1/p' "$d/rec.err")
m=$(opcount "$d/trace.htape" reallocarray)
lost=$(statnum "$d/trace.htape" lost_events)
# (an op that is a number: a record nobody wrote)
ops=$("$H" stat --json "$d/trace.htape" | python3 -c 'import json, sys; print(" ".join(k for k in json.load(sys.stdin)["ops"] if k[0].isdigit()) or "none")')
[ -n "$h" ] && [ "$h" -gt 1000 ] && [ $((m + lost)) = "$h" ] && [ "$ops" = none ] &&
	ok "sigstorm2: $h handler reallocarrays = $m recorded + $lost lost, no unknown op" ||
	no "sigstorm2: $h handler reallocarrays = $m recorded + $lost lost, unknown ops: $ops"

# The recorder's fds stay out of the program's way, in a fork child too
same fdnums -- "$P/fdnums"
# ... also for a moment: no file opened on every flush (the encoder
# looked in /proc/self/stat every 100 ms for a main thread gone by
# pthread_exit: an open() of the program's then got fd 4 instead of 3)
if command -v strace >/dev/null; then
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -o "$T/fdnums/strace" -e trace=openat \
		"$H" record -q -F -o "$T/fdnums/s.htape" -- sleep 0.5
	k=$(grep -c '/proc/self/stat"\|/task/[0-9]*/stat"' "$T/fdnums/strace")
	[ "$k" = 0 ] && ok "fdnums: a process recorded for 0.5 s opens no /proc stat file" ||
		no "fdnums: a process recorded for 0.5 s opened /proc stat files $k times"
else
	skip "fdnums: no /proc stat file opened on each flush" "no strace"
fi
# Libraries' destructors run after the preload library's: their events
# are recorded all the same
same dtorlib -- "$P/dtorlib"
d=$T/dtorlib
m=$("$H" cat --op malloc "$d/trace.htape" | grep -c " size=77 ")
f=$(opcount "$d/trace.htape" free)
[ "$m" = 1000 ] && [ "$f" -ge 1000 ] &&
	ok "dtorlib: a library destructor's 1000 malloc(77) and frees at exit recorded" ||
	no "dtorlib: a library destructor's malloc(77) and frees at exit recorded ($m, $f frees)"
same dlopener -- "$P/dlopener" 200

same fsize -- "$P/fsize" 262144 2000000
d=$T/fsize
lost=$(statnum "$d/trace.htape" lost_events)
m=$(opcount "$d/trace.htape" malloc)
[ "${lost:-0}" -gt 0 ] && [ $((m + lost)) -ge 2000000 ] &&
	[ "$(wc -c <"$d/trace.htape")" -le 262144 ] &&
	ok "fsize: stops at RLIMIT_FSIZE with a loss record ($m kept, $lost lost)" ||
	no "fsize: stops at RLIMIT_FSIZE with a loss record ($m kept, ${lost:-0} lost)"

same allkinds -- "$P/allkinds"
d=$T/allkinds
"$H" cat "$d/trace.htape" >"$d/cat"
okk=1
for op in calloc realloc reallocarray posix_memalign aligned_alloc memalign \
	valloc pvalloc; do
	grep -q " $op " "$d/cat" || { okk=0; echo "# no $op"; }
done
grep -q "posix_memalign align=64 size=100 " "$d/cat" || okk=0
grep -q "reallocarray 0x[0-9a-f]* nmemb=50 size=8 " "$d/cat" || okk=0
grep -q "reallocarray 0x0 nmemb=1099511627776 size=1073741824 .*FAILED" "$d/cat" ||
	{ okk=0; echo "# no 64-bit nmemb"; }
[ "$(grep -c FAILED "$d/cat")" = 6 ] || { okk=0; echo "# FAILED: $(grep -c FAILED "$d/cat")"; }
"$H" stat "$d/trace.htape" | grep -q ht-worker || { okk=0; echo "# no thread name"; }
[ "$okk" = 1 ] && ok "allkinds: every op, alignment, nmemb, 6 failed calls, thread name" ||
	no "allkinds: every op, alignment, nmemb, 6 failed calls, thread name"

# daemon(3): the parent leaves by glibc's internal _exit (no hook sees
# it); fork writes what the parent had, the daemon gets its own trace
d=$T/daemon
rm -rf "$d"
mkdir -p "$d"
"$H" record -q -o "$d/t.htape" -- "$P/daemonize" 100000 >"$d/out"
i=0
while [ "$i" -lt 100 ] && ! ls "$d"/t.htape.* >/dev/null 2>&1; do
	sleep 0.1; i=$((i + 1))
done
child=$(ls "$d"/t.htape.* 2>/dev/null | head -1)
i=0
while [ "$i" -lt 100 ] && [ -n "$child" ] && ! "$H" verify "$child" >/dev/null 2>&1; do
	sleep 0.1; i=$((i + 1))
done
pm=$("$H" cat --op malloc "$d/t.htape" 2>/dev/null | wc -l)
[ -n "$child" ] && "$H" verify "$child" >/dev/null 2>&1 &&
	[ "$(opcount "$child" malloc)" -ge 100000 ] && [ "$pm" -ge 1000 ] &&
	ok "daemon(3): parent's events written at fork ($pm mallocs), daemon's trace complete" ||
	no "daemon(3): parent's events written at fork ($pm mallocs), daemon's trace complete"

# process.ppid is the process that forked, even when it exits before its
# child opens a trace (a daemon's double fork: getppid() is 1 by then)
d=$T/orphan
rm -rf "$d"
mkdir -p "$d"
"$H" record -q -o "$d/o.htape" -- "$P/orphan" &
rp=$!
wait "$rp"
for i in $(seq 100); do
	set -- "$d"/o.htape.*
	[ $# = 2 ] && "$H" verify "$d/o.htape" "$@" >/dev/null 2>&1 && break
	sleep 0.1
done
root=$(meta "$d/o.htape" process.pid)
got="$(meta "$d/o.htape" process.ppid)"
want=$rp
for f in "$@"; do
	got="$got $(meta "$f" process.ppid)"
	pp=$(meta "$f" process.pid)
	# the middle process is the root's child, the last one its own
	if [ "$(opcount "$f" malloc)" -ge 1000 ]; then last=$f; else mid=$pp; fi
done
for f in "$@"; do
	[ "$f" = "${last:-}" ] && want="$want ${mid:-?}" || want="$want $root"
done
[ $# = 2 ] && [ "$got" = "$want" ] &&
	ok "orphan: process.ppid is the forking process though it has exited ($got)" ||
	no "orphan: process.ppid $got, want $want ($# children)"

# --- SIGKILL -----------------------------------------------------------------
d=$T/kill
mkdir -p "$d"
rm -f "$d"/k.htape*
"$H" record -q -o "$d/k.htape" -- "$P/killme" >"$d/k.out" 2>"$d/k.err" &
rp=$!
sleep 1.2
kp=$(pgrep -P "$rp" | head -1)
[ -n "$kp" ] && kill -KILL "$kp"
wait "$rp"
rc=$?
[ "$rc" = 137 ] && ok "kill: record returns 128+9 for SIGKILL" ||
	no "kill: record returns 128+9 for SIGKILL (got $rc)"
"$H" verify "$d/k.htape" >"$d/v.out" 2>"$d/v.err"
vrc=$?
grep -q "truncated at offset" "$d/v.out" "$d/v.err" && [ "$vrc" = 1 ] &&
	ok "kill: verify says where the trace was cut (exit 1)" ||
	no "kill: verify says where the trace was cut (exit $vrc)"
"$H" cat --op malloc "$d/k.htape" 2>/dev/null | wc -l >"$d/n"
got=$(cat "$d/n")
# the last progress line ~ kill time; every malloc older than the flush
# interval (100 ms) plus 250 ms of slack (a loaded machine) must be in
# the trace
want=$(awk '{ t[NR] = $1; c[NR] = $2; last = $1 }
	END { w = 0; for (i = 1; i <= NR; i++) if (t[i] <= last - 350000000) w = c[i]
	      print w }' "$d/k.out")
[ "$want" -gt 0 ] && [ "$got" -ge "$want" ] &&
	ok "kill: all events older than the flush interval kept ($got >= $want)" ||
	no "kill: all events older than the flush interval kept ($got, want $want)"

# record's last line: a trace without END is never "none lost": a
# killed process's is cut (its last flush interval is missing), a
# running one's is still being written; the first process's and a
# child's alike
rm -f "$d"/k2.htape* "$d"/k3.htape* "$d"/k4.htape* "$d/k4.pid"
"$H" record -f 50 -o "$d/k2.htape" -- "$P/killme" >/dev/null 2>"$d/k2.err" &
rp=$!
sleep 0.5
kp=$(pgrep -P "$rp" | head -1)
[ -n "$kp" ] && kill -KILL "$kp"
wait "$rp"
"$H" record -o "$d/k3.htape" -- sh -c "\"$P/killme\" >/dev/null & sleep 0.5; kill -KILL \$!; wait; true" 2>"$d/k3.err"
"$H" record -o "$d/k4.htape" -- sh -c "\"$P/killme\" >/dev/null & echo \$! >\"$d/k4.pid\"; sleep 0.5" 2>"$d/k4.err"
[ -s "$d/k4.pid" ] && kill -KILL "$(cat "$d/k4.pid")"
tail -1 "$d/k2.err" | grep -q "trace '.*k2.htape': [0-9]* events, .*, cut: the process of 'k2.htape' was killed before the trace was closed; events of its last <= 50 ms (the flush interval) are not in it$" &&
	tail -1 "$d/k3.err" | grep -q "(and [0-9]* more .*), cut: the process of 'k3.htape.[0-9.]*' was killed before the trace was closed; events of its last <= 100 ms" &&
	tail -1 "$d/k4.err" | grep -q "(and [0-9]* more .*), 1 trace still being written (its process is still running)$" &&
	! grep -q "none lost" "$d/k2.err" "$d/k3.err" "$d/k4.err" &&
	ok "kill: record's last line says a trace is cut or still being written, never none lost" ||
	{ no "kill: record's last line for a trace without END"; tail -qn1 "$d/k2.err" "$d/k3.err" "$d/k4.err" | sed 's/^/# /'; }

# --- command line ------------------------------------------------------------
d=$T/cli
rm -rf "$d"
mkdir -p "$d"
: >"$d/exists.htape"
"$H" record -q -o "$d/exists.htape" -- true 2>"$d/err"
[ $? = 125 ] && [ ! -s "$d/exists.htape" ] &&
	ok "record refuses to overwrite a trace (125)" ||
	no "record refuses to overwrite a trace (125)"
"$H" record -q --force -o "$d/exists.htape" -- true 2>"$d/err"
[ $? = 0 ] && [ -s "$d/exists.htape" ] && ok "record --force overwrites" ||
	no "record --force overwrites"
"$H" record -q -o "$d/nf.htape" -- /nonexistent/prog 2>/dev/null
[ $? = 127 ] && ok "record: program not found is 127" ||
	no "record: program not found is 127"
"$H" record -q -o "$d/nx.htape" -- "$T/work.sql" 2>/dev/null
[ $? = 126 ] && ok "record: program not executable is 126" ||
	no "record: program not executable is 126"
"$H" record -q -o "$d/st.htape" -- sh -c 'exit 42'
[ $? = 42 ] && ok "record returns the program's status" ||
	no "record returns the program's status"
rm -f "$d"/nof.htape*
"$H" record -q --no-follow -o "$d/nof.htape" -- sh -c 'sh -c "echo hi" >/dev/null; true'
[ "$(ls "$d"/nof.htape* | wc -l)" = 1 ] &&
	ok "record --no-follow: children are not traced" ||
	no "record --no-follow: children are not traced ($(ls "$d"/nof.htape* | wc -l) traces)"
(cd "$d" && "$H" record -- true 2>"$d/name.err")
f=$(sed -n "s/.*trace '\(heaptape\.[0-9]*\.htape\)'.*/\1/p" "$d/name.err")
[ -n "$f" ] && [ -f "$d/$f" ] && ok "record names the default trace on stderr ($f)" ||
	no "record names the default trace on stderr"
e=$(statnum "$d/$f" events)
grep -Eq "trace '$f': $e events, [0-9.]+ [KMG]?i?B(, recorder CPU [0-9.]+ s \([0-9]+ ns/event\))?, none lost$" "$d/name.err" &&
	ok "record's last line gives the trace's events ($e), size, none lost" ||
	{ no "record's last line gives events, size, losses"; sed 's/^/# /' "$d/name.err"; }
# files beside the trace that are not a child's are not counted
rm -f "$d"/side.htape*
echo "time_ns,pid" >"$d/side.htape.csv"
"$H" record -o "$d/side.htape" -- true 2>"$d/side.err"
grep -q "trace '.*side.htape': [0-9]* events" "$d/side.err" &&
	! grep -q "more" "$d/side.err" &&
	ok "record's last line counts no side.htape.csv as a trace" ||
	{ no "record's last line counts side.htape.csv"; sed 's/^/# /' "$d/side.err"; }
rm -f "$d"/env.htape*
HEAPTAPE_OUT="$d/env.htape" LD_PRELOAD="$HT_PRELOAD" "$P/exiter" 100 >/dev/null
[ "$(opcount "$d/env.htape" malloc)" -ge 100 ] &&
	ok "LD_PRELOAD + HEAPTAPE_OUT alone records" ||
	no "LD_PRELOAD + HEAPTAPE_OUT alone records"
# values the library cannot use: the program's output stays its own,
# the trace says what was not understood and what was done instead
rm -f "$d"/envbad.htape*
HEAPTAPE_OUT="$d/envbad.htape" HEAPTAPE_MAX_SIZE=10GBs HEAPTAPE_LEVEL=fast \
	HEAPTAPE_FLUSH_MS=-5 HEAPTAPE_TOGGLE_SIGNAL=NOSUCH \
	LD_PRELOAD="$HT_PRELOAD" "$P/exiter" 100 >"$d/envbad.out" 2>&1
"$P/exiter" 100 >"$d/envgood.out" 2>&1
w=$("$H" stat --json "$d/envbad.htape" | python3 -c '
import json, sys; print(json.load(sys.stdin)["meta"].get("recorder.warning", ""))')
cmp -s "$d/envbad.out" "$d/envgood.out" &&
	case "$w" in *"HEAPTAPE_LEVEL='fast'"*"HEAPTAPE_MAX_SIZE='10GBs' not understood: no size limit"*) true ;; *) false ;; esac &&
	case "$w" in *"HEAPTAPE_FLUSH_MS='-5'"*HEAPTAPE_TOGGLE_SIGNAL*) true ;; *) false ;; esac &&
	[ "$(opcount "$d/envbad.htape" malloc)" -ge 100 ] &&
	ok "HEAPTAPE_* values not understood: same output, recorder.warning names each" ||
	no "HEAPTAPE_* values not understood: warning '$w'"
# values the library would have to change: the trace says what it used
rm -f "$d"/envclamp.htape*
HEAPTAPE_OUT="$d/envclamp.htape" HEAPTAPE_BUFFER=0 HEAPTAPE_FLUSH_MS=99999 \
	LD_PRELOAD="$HT_PRELOAD" "$P/exiter" 100 >/dev/null 2>&1
w=$(meta "$d/envclamp.htape" recorder.warning)
o=$(meta "$d/envclamp.htape" recorder.options)
case "$w" in *"HEAPTAPE_FLUSH_MS='99999' above the longest interval: 60000 ms"*"HEAPTAPE_BUFFER='0' below the smallest pool: 1M"*) true ;; *) false ;; esac &&
	case "$o" in "flush_ms=60000 buffer=1048576 "*) true ;; *) false ;; esac &&
	ok "HEAPTAPE_BUFFER=0, HEAPTAPE_FLUSH_MS=99999: recorder.warning says what was used instead" ||
	no "HEAPTAPE_BUFFER=0, HEAPTAPE_FLUSH_MS=99999: warning '$w', options '$o'"
# ... and record refuses them, as it does -m 10 and -l 99
bad=
for a in "-b 0" "-b 512K" "-f 0" "-f 500us" "-f 61s" "-f 60001" "-f x"; do
	rm -f "$d/bad.htape"
	"$H" record -q $a -o "$d/bad.htape" -- true 2>"$d/err"
	rc=$?
	[ $rc = 2 ] && grep -q "^heaptape record: bad --" "$d/err" &&
		[ ! -e "$d/bad.htape" ] || bad="$bad '$a' ($rc)"
done
for a in "-b 1M" "-f 1" "-f 60s" "-f 20ms"; do
	"$H" record -q -F $a -o "$d/good.htape" -- true 2>"$d/err" ||
		bad="$bad '$a' refused"
done
[ -z "$bad" ] && ok "record -b 0, -b 512K, -f 0, -f 500us, -f 61s: usage error (2); -b 1M, -f 60s taken" ||
	no "record option values:$bad"
rm -f "$d"/p.htape*
"$H" record -q --paused -o "$d/p.htape" -- "$P/exiter" 1000 >/dev/null
[ "$(opcount "$d/p.htape" malloc)" = 0 ] && "$H" verify "$d/p.htape" >/dev/null &&
	ok "record --paused records nothing until toggled" ||
	no "record --paused records nothing until toggled"
# -o: the children of an earlier recording to the name are not taken
# for this one's (refused, or removed with --force); a directory is
# refused; a pattern may name the directory
rm -f "$d"/fk.htape*
: >"$d/fk.htape.4242"
"$H" record -q -o "$d/fk.htape" -- true 2>"$d/err"
rc=$?
"$H" record -q --force -o "$d/fk.htape" -- true 2>>"$d/err"
rc2=$?
[ $rc = 125 ] && grep -q "fk.htape.4242' exists" "$d/err" && [ $rc2 = 0 ] &&
	[ ! -e "$d/fk.htape.4242" ] && [ -s "$d/fk.htape" ] &&
	ok "record: an earlier run's child trace is refused (125), --force removes it" ||
	no "record: an earlier run's child trace: $rc, --force $rc2: $(cat "$d/err")"
mkdir -p "$d/adir" "$d/$(hostname)"
"$H" record -q -o "$d/adir" -- true 2>"$d/err"
rc=$?
"$H" record -q -o "$d/%h/h.htape" -- true 2>>"$d/err"
rc2=$?
[ $rc = 125 ] && grep -q "is a directory" "$d/err" && [ $rc2 = 0 ] &&
	[ -s "$d/$(hostname)/h.htape" ] &&
	ok "record -o: a directory refused (125); %h in a directory name works" ||
	no "record -o: directory $rc, %h/ $rc2: $(cat "$d/err")"
# --toggle-signal: a name or number the program can catch, else usage
for sig in FOO KILL 0 RTMIN+99; do
	"$H" record -q --toggle-signal "$sig" -o "$d/bad.htape" -- true 2>/dev/null
	rc=$?
	[ $rc = 2 ] || break
done
[ $rc = 2 ] && [ ! -e "$d/bad.htape" ] &&
	ok "record --toggle-signal FOO, KILL, 0, RTMIN+99: usage error (2)" ||
	no "record --toggle-signal $sig: exit $rc"
"$H" record -q --toggle-signal alrm -o "$d/alrm.htape" -- sh -c 'kill -ALRM $$; kill -ALRM $$; echo alive'  >"$d/alrm.out" 2>&1
rc=$?
[ $rc = 0 ] && [ "$(cat "$d/alrm.out")" = alive ] &&
	ok "record --toggle-signal alrm: SIGALRM toggles, never kills the program" ||
	no "record --toggle-signal alrm: exit $rc, $(cat "$d/alrm.out")"
rm -f "$d"/tg.htape*
"$H" record -q --paused --toggle-signal USR2 -o "$d/tg.htape" -- \
	"$P/killme" >/dev/null &
rp=$!
sleep 0.4
kill -USR2 "$rp"
sleep 0.3
kill -USR2 "$rp"
sleep 0.3
kill -TERM "$rp"
wait "$rp"
set -- $("$H" stat --json "$d/tg.htape" 2>/dev/null | tr -d '",' |
	awk '$1 == "events:" { e = $2 } $1 == "paused_events:" { p = $2 }
	     $1 == "lost_events:" { l = $2 } END { print e + 0, p + 0, l + 0 }')
"$H" replay --json "$d/tg.json" "$d/tg.htape" >/dev/null 2>&1
gap=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["skipped"].get("loss_gap", 0))' "$d/tg.json")
[ "$1" -gt 1000 ] && [ "$2" -gt "$1" ] && [ "$3" = 0 ] && [ "$gap" = 0 ] &&
	ok "record --toggle-signal USR2: records between two signals ($1 events, $2 paused, none lost, no loss gap in replay)" ||
	no "record --toggle-signal USR2: records between two signals ($1 events, $2 paused, $3 lost, replay loss_gap $gap)"
rm -f "$d"/max.htape*
"$H" record --max-size 64K -o "$d/max.htape" -- true 2>/dev/null
[ $? = 2 ] && [ ! -e "$d/max.htape" ] &&
	ok "record --max-size 64K: usage error (the closing blocks need 64K)" ||
	no "record --max-size 64K: usage error"
"$H" record --max-size 300K -o "$d/max.htape" -- "$P/fsize" 100000000 1000000 \
	>/dev/null 2>"$d/max.err"
s=$(wc -c <"$d/max.htape")
l=$(statnum "$d/max.htape" lost_events)
"$H" verify "$d/max.htape" >/dev/null && [ "$s" -le 307200 ] && [ "${l:-0}" -gt 0 ] &&
	ok "record --max-size: stops at 300K with a loss record ($s bytes, $l lost)" ||
	no "record --max-size: stops at 300K with a loss record ($s bytes, ${l:-0} lost)"
# record's last line says what was lost and why, as stat counts it
grep -q "^heaptape record: trace '.*max.htape': [0-9]* events, .*, $l events lost (size limit)$" \
	"$d/max.err" &&
	ok "record --max-size: its last line says $l events lost (size limit)" ||
	{ no "record --max-size: its last line says what was lost"; sed 's/^/# /' "$d/max.err"; }

# --latency (HEAPTAPE_LATENCY): every call timed.  The program's output
# and status stay the same; every event carries its duration (stat counts
# one per event of each op); the CSV gets duration_ns; and on each thread
# the calls, placed by their time and duration (an allocation's began dur
# before its ts, a free's ended dur after), never overlap.
cat >"$T/lat.py" <<'EOF'
import csv, sys
last, bad, timed, rows = {}, 0, 0, 0
for r in csv.DictReader(open(sys.argv[1], newline='')):
    t, d = int(r['time_ns']), int(r['duration_ns'])
    start, end = (t, t + d) if r['op'].startswith('free') else (t - d, t)
    if r['tid'] in last and start < last[r['tid']] - 2:  # ns rounding
        bad += 1
    last[r['tid']] = end
    rows += 1
    timed += d > 0
print(rows, timed, bad)
EOF
for w in python prodcons allkinds; do
	case $w in
	python) same lat-$w HEAPTAPE_LATENCY=1 PYTHONMALLOC=malloc -- \
		"${PY:-python3}" -c 'import json; print(len(json.dumps([str(i) for i in range(50000)])))' ;;
	prodcons) same lat-$w HEAPTAPE_LATENCY=1 -- "$P/prodcons" 2 20000 ;;
	allkinds) same lat-$w HEAPTAPE_LATENCY=1 -- "$P/allkinds" ;;
	esac
	f=$T/lat-$w/trace.htape
	"$H" stat --json "$f" >"$T/lat-$w/stat.json" 2>/dev/null
	python3 - "$T/lat-$w/stat.json" >"$T/lat-$w/ops" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
lat = s.get('latency_ns', {})
diff = [op for op in s['ops'] if lat.get(op, {}).get('count') != s['ops'][op]]
print(len(s['ops']), ' '.join(diff) or '-', s['meta'].get('recorder.latency'))
EOF
	read nops diff lv <"$T/lat-$w/ops"
	[ "$nops" -gt 1 ] && [ "$diff" = - ] && [ "$lv" = 1 ] &&
		ok "latency $w: every event of its $nops ops timed (stat latency_ns)" ||
		no "latency $w: every event timed ($nops ops, differing: $diff, recorder.latency $lv)"
	"$H" convert "$f" "$T/lat-$w/t.csv" 2>/dev/null
	read rows timed bad <<EOF
$(python3 "$T/lat.py" "$T/lat-$w/t.csv" 2>&1 | tail -1)
EOF
	ev=$(events "$f")
	[ "$rows" = "$ev" ] && [ "$bad" = 0 ] && [ "$timed" -gt $((rows / 2)) ] &&
		ok "latency $w: duration_ns on all $rows rows ($timed over 0 ns), no two calls of a thread overlap" ||
		no "latency $w: CSV rows $rows of $ev events, $timed over 0 ns, $bad overlaps"
done
# --interval with call times: each bucket's slowest allocating and
# freeing call; over all buckets, the slowest of stat's per op
f=$T/lat-python/trace.htape
"$H" convert --interval 1ms "$f" "$T/lat-iv.csv" 2>/dev/null
"$H" stat --json "$f" >"$T/lat-iv.json" 2>/dev/null
r=$(python3 - "$T/lat-iv.csv" "$T/lat-iv.json" <<'EOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
lat = json.load(open(sys.argv[2]))['latency_ns']
frees = ('free', 'free_sized', 'free_aligned_sized')
want_a = max(v['max'] for k, v in lat.items() if k not in frees)
want_f = max(v['max'] for k, v in lat.items() if k in frees)
got_a = max(int(r['alloc_max_ns']) for r in rows if r['alloc_max_ns'])
got_f = max(int(r['free_max_ns']) for r in rows if r['free_max_ns'])
ok = all((r['alloc_p50_ns'] == '') == (int(r['allocs']) + int(r['reallocs']) == 0)
         for r in rows)
print(len(rows), got_a == want_a and got_f == want_f and ok)
EOF
)
case $r in *" True") ok "latency --interval: ${r% *} buckets, slowest calls = stat's" ;;
*) no "latency --interval: slowest calls = stat's ($r)" ;; esac
# the option itself, and the CSV round trip keeps the durations
d=$T/lat-opt
mkdir -p "$d"
rm -f "$d"/t.htape*
"$H" record -q --latency -o "$d/t.htape" -- sh -c 'echo x' >/dev/null 2>&1
"$H" convert "$d/t.htape" "$d/a.csv" 2>/dev/null &&
	"$H" convert "$d/a.csv" "$d/b.htape" 2>/dev/null &&
	"$H" convert "$d/b.htape" "$d/b.csv" 2>/dev/null
[ "$(meta "$d/t.htape" recorder.latency)" = 1 ] &&
	head -1 "$d/a.csv" | grep -q ',result,duration_ns' &&
	[ "$(wc -l <"$d/a.csv")" -gt 10 ] && cmp -s "$d/a.csv" "$d/b.csv" &&
	ok "record --latency: trace, CSV with duration_ns, CSV -> htape -> CSV the same" ||
	no "record --latency: trace, CSV with duration_ns and its round trip"
# without it: no durations anywhere
f=$T/prodcons/trace.htape
"$H" stat --json "$f" 2>/dev/null | grep -q latency_ns ||
	"$H" convert "$f" - 2>/dev/null | head -1 | grep -q duration_ns ||
	"$H" cat "$f" 2>/dev/null | grep -q ' in [0-9]*ns$' ||
	[ -n "$(meta "$f" recorder.latency)" ] &&
	no "without --latency: no durations in stat, CSV or cat" ||
	ok "without --latency: no durations in stat, CSV or cat"

# a full disk: a 3 MiB tmpfs (root only); the recorder keeps 1 MiB free
d=$T/full
mkdir -p "$d"
if mount -t tmpfs -o size=3m tmpfs "$d" 2>/dev/null; then
	"$H" record -q -o "$d/f.htape" -- "$P/fsize" 100000000000 2000000 >"$T/full.out"
	rc=$?
	l=$(statnum "$d/f.htape" lost_events)
	m=$(opcount "$d/f.htape" malloc)
	"$H" verify "$d/f.htape" >/dev/null && [ "$rc" = 0 ] && [ "${l:-0}" -gt 0 ] &&
		[ "$m" -gt 10000 ] &&
		ok "full disk: the program goes on, the trace ends with a loss record ($m kept, $l lost)" ||
		no "full disk: the program goes on, the trace ends with a loss record (rc $rc, $m kept, ${l:-0} lost)"
	umount "$d"
else
	skip "full disk: the program goes on, the trace ends with a loss record" "cannot mount a tmpfs"
fi
