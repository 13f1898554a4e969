#!/bin/sh
# t_import.sh - the text importers (convert/android.c, convert/mtrace.c):
# the real systemui record_allocs trace ($SHARED/data/android) as zstd,
# plain, zip and gzip, detected by content; mtrace logs of real programs
# (sqlite3, python3) recorded here under libc_malloc_debug.so; malformed
# input rejected with file:line; --salvage; replay of the imported traces.
# Expected values come from the text itself (awk, python3), and
# build/tests/import_dump prints an imported trace back in its source
# format, so that whole files are compared.
set -u
T=$HT_TMP/import
mkdir -p "$T"
SUI=$SHARED/data/android/systemui.txt.zst
. tests/import_tap.sh
# same TEXT TRACE: the trace printed as android text is TEXT.
same() { "$DUMP" android "$2" 2>>"$T/err" | cmp -s "$1" -; }
# rejected RC ERRFILE PATTERN OUT: exit 1, the message, and no output
# (not even a temporary file).
rejected() {
	[ "$1" = 1 ] && grep -q -- "$3" "$2" && ! [ -e "$4" ] &&
		! ls "$4".tmp.* >/dev/null 2>&1
}
counts() { # FILE: "op count" lines of android text, sorted
	awk '{c[$2]++} END {for (k in c) print k, c[k]}' "$1" | sort
}

# --- systemui: the real Android trace ------------------------------------
zstd -dc "$SUI" >"$T/sui.txt"
"$HEAPTAPE" convert "$SUI" "$T/sui.htape" 2>"$T/err"
check "systemui.txt.zst converts without --from (content detection)" \
	[ $? = 0 -a -s "$T/sui.htape" ]
"$DUMP" android "$T/sui.htape" >"$T/sui.back" 2>>"$T/err"
check "systemui: the reader's order gives back the text byte for byte" \
	cmp -s "$T/sui.txt" "$T/sui.back"
counts "$T/sui.txt" >"$T/want.ops"
counts "$T/sui.back" >"$T/got.ops"
check "systemui: per-op counts (malloc calloc memalign realloc free \
thread_done) equal the text's ($(tr '\n' ' ' <"$T/want.ops"))" \
	eval 'grep -q "^malloc 383154$" "$T/want.ops" &&
	      cmp -s "$T/want.ops" "$T/got.ops"'
check "systemui: 393 threads (text, trace, metadata)" \
	[ "$(cut -d: -f1 "$T/sui.back" | sort -u | wc -l)" = 393 -a \
	  "$(cut -d: -f1 "$T/sui.txt" | sort -u | wc -l)" = 393 -a \
	  "$(meta import.threads "$T/sui.htape")" = 393 ]
check "systemui: metadata (android, 32-bit pointers, no time, 786454 lines)" \
	[ "$(meta trace.source "$T/sui.htape")" = android -a \
	  "$(meta process.pointer_bits "$T/sui.htape")" = 32 -a \
	  "$(meta import.lines "$T/sui.htape")" = 786454 -a \
	  "$(meta trace.has_time "$T/sui.htape")" = 0 ]
check "systemui: the trace is flagged HT_TRACE_NO_TIME" \
	eval '"$DUMP" meta "$T/sui.htape" |
	      grep -q "^flags 0x[0-9a-f]*[13579bdf]$"'
# Size against zstd -19 of the text (the shared .zst): the trace at the
# default level (the encoder's speed settings must not cost this), and
# like against like at --level 19.
"$HEAPTAPE" convert --level 19 "$SUI" "$T/sui19.htape" 2>>"$T/err"
sz=$(wc -c <"$T/sui19.htape")
dsz=$(wc -c <"$T/sui.htape")
zsz=$(wc -c <"$SUI")
check "systemui: trace at the default level ($dsz B) smaller than zstd -19 \
of the text ($zsz B)" [ "$dsz" -lt "$zsz" ]
check "systemui: trace at --level 19 ($sz B) smaller than zstd -19 of the \
text ($zsz B)" [ "$sz" -lt "$zsz" ]

# Peak live bytes from the text alone.
python3 - "$T/sui.txt" >"$T/peak.want" <<'EOF'
import sys
live, cur, peak = {}, 0, 0
def add(p, s):
    global cur, peak
    if p == 0:
        return
    cur -= live.get(p, 0)
    live[p] = s
    cur += s
    peak = max(peak, cur)
def rel(p):
    global cur
    cur -= live.pop(p, 0)
for line in open(sys.argv[1]):
    f = line.split()
    op = f[1]
    if op == 'malloc':
        add(int(f[2], 16), int(f[3]))
    elif op == 'calloc':
        add(int(f[2], 16), int(f[3]) * int(f[4]))
    elif op == 'memalign':
        add(int(f[2], 16), int(f[4]))
    elif op == 'realloc':
        new, old, size = int(f[2], 16), int(f[3], 16), int(f[4])
        if new == 0 and size != 0:
            continue            # failed: nothing changes
        if old:
            rel(old)            # realloc(NULL, n) releases nothing
        add(new, size)          # realloc(p, 0) -> NULL adds nothing
    elif op == 'free':
        rel(int(f[2], 16))      # free(NULL): nothing
print(peak)
EOF
"$HEAPTAPE" stat --json "$T/sui.htape" >"$T/stat.json" 2>"$T/stat.err"
python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["peak_live_bytes"])' "$T/stat.json" \
	>"$T/peak.got" 2>>"$T/stat.err"
check "systemui: stat peak_live_bytes ($(cat "$T/peak.got")) equals \
python over the text ($(cat "$T/peak.want"))" \
	eval '[ -s "$T/peak.want" ] && cmp -s "$T/peak.want" "$T/peak.got"'

# The same trace as plain text, zip and gzip.
"$HEAPTAPE" convert --from android "$T/sui.txt" "$T/plain.htape" 2>>"$T/err"
check "systemui plain text with --from android: same events" \
	same "$T/sui.txt" "$T/plain.htape"
python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED)
z.writestr("README", "the trace is systemui.txt\n")
z.write(sys.argv[2], "systemui.txt")
z.close()' "$T/sui.zip" "$T/sui.txt"
"$HEAPTAPE" convert "$T/sui.zip" "$T/zip.htape" 2>>"$T/err"
check "systemui as zip (deflated, 2 members, detected by content): same" \
	same "$T/sui.txt" "$T/zip.htape"
check "zip: the member read is recorded in the metadata" \
	[ "$(meta trace.source_member "$T/zip.htape")" = systemui.txt ]
gzip -c "$T/sui.txt" >"$T/sui.txt.gz"
"$HEAPTAPE" convert "$T/sui.txt.gz" "$T/gz.htape" 2>>"$T/err"
check "systemui as gzip, detected by content: same events" \
	same "$T/sui.txt" "$T/gz.htape"

# --- malformed input -----------------------------------------------------
printf '1: malloc 0x10 16\n1: free 0x10\n1: mallok 0x20 16\n1: free 0x20\n' \
	>"$T/bad.txt"
"$HEAPTAPE" convert --from android "$T/bad.txt" "$T/bad.htape" \
	2>"$T/bad.err"
check "android: malformed line -> exit 1, 'FILE':3: reason, no output" \
	rejected $? "$T/bad.err" "'$T/bad.txt':3: unknown operation 'mallok'" \
	"$T/bad.htape"
"$HEAPTAPE" convert --from android --salvage "$T/bad.txt" "$T/salv.htape" \
	2>"$T/salv.err"
rc=$?
check "android --salvage: skips and counts the bad line (stderr, metadata)" \
	eval '[ $rc = 0 ] && grep -q "skipped 1 malformed line" "$T/salv.err" &&
	      [ "$(meta import.bad_lines "$T/salv.htape")" = 1 ] &&
	      [ "$("$DUMP" android "$T/salv.htape" | wc -l)" = 3 ]'
head -c 400000 "$SUI" >"$T/trunc.zst"
"$HEAPTAPE" convert --from android "$T/trunc.zst" "$T/trunc.htape" \
	2>"$T/trunc.err"
check "android: truncated .zst -> exit 1, 'truncated', no output" \
	rejected $? "$T/trunc.err" "truncated" "$T/trunc.htape"
"$HEAPTAPE" convert --from android --salvage "$T/trunc.zst" \
	"$T/trunc2.htape" 2>"$T/trunc2.err"
rc=$?
kept=$("$DUMP" android "$T/trunc2.htape" 2>/dev/null | wc -l)
head -n "$kept" "$T/sui.txt" >"$T/trunc2.want"
check "android --salvage, truncated .zst: keeps the $kept whole lines \
before the cut and says so" \
	eval '[ $rc = 0 ] && [ $kept -gt 100000 ] &&
	      grep -q "kept the $kept events" "$T/trunc2.err" &&
	      same "$T/trunc2.want" "$T/trunc2.htape" &&
	      "$DUMP" meta "$T/trunc2.htape" | grep -q "^import.input_cut=line"'
printf '1: malloc 0x10 16\n1: realloc 0x20 0x10 18446744073709551616\n' \
	>"$T/big.txt"
"$HEAPTAPE" convert --from android "$T/big.txt" "$T/big.htape" \
	2>"$T/big.err"
check "android: a number over 64 bits is rejected at its line" \
	rejected $? "$T/big.err" "big.txt':2: " "$T/big.htape"
printf '= Start\n+ 0x10 0x5\n> 0x20 0x8\n- 0x20\n' >"$T/bad.mtrace"
"$HEAPTAPE" convert --from mtrace "$T/bad.mtrace" "$T/badm.htape" \
	2>"$T/badm.err"
check "mtrace: '>' without '<' -> exit 1 with 'FILE':3, no output" \
	rejected $? "$T/badm.err" "bad.mtrace':3: '> PTR SIZE' without" \
	"$T/badm.htape"
printf 'hello\nworld\n' >"$T/junk.txt"
"$HEAPTAPE" convert "$T/junk.txt" "$T/junk.htape" 2>"$T/junk.err"
check "text that is neither android nor mtrace is not taken for them" \
	rejected $? "$T/junk.err" "unknown input format" "$T/junk.htape"

# --- newer Android traces: timestamps, 64-bit pointers -------------------
printf '%s\n' '7: malloc 0x7f0012345000 100 1000 1100' \
	'8: malloc 0x7f0012346000 50 1050 1200' \
	'7: free 0x7f0012346000 1300 1310' '8: thread_done 0x0 1400' \
	>"$T/ts.txt"
cut -d' ' -f1-3 "$T/ts.txt" >"$T/ts.want"
"$HEAPTAPE" convert "$T/ts.txt" "$T/ts.htape" 2>>"$T/err"
"$DUMP" android "$T/ts.htape" 2>>"$T/err" | cut -d' ' -f1-3 >"$T/ts.got"
check "android with timestamps: 64-bit pointers, timed, order kept" \
	[ "$(meta process.pointer_bits "$T/ts.htape")" = 64 -a \
	  "$(meta trace.has_time "$T/ts.htape")" = 1 -a \
	  "$(cat "$T/ts.want")" = "$(cat "$T/ts.got")" ]

# --- mtrace of real programs ---------------------------------------------
DBG=$(ls /lib/*/libc_malloc_debug.so /usr/lib/*/libc_malloc_debug.so \
	2>/dev/null | head -1)
printf '%s\n' '#include <mcheck.h>' \
	'__attribute__((constructor)) static void on(void) { mtrace(); }' \
	>"$T/shim.c"
if [ -z "$DBG" ] || ! command -v sqlite3 >/dev/null ||
   ! cc -shared -fPIC -o "$T/shim.so" "$T/shim.c"; then
	skip "mtrace import of sqlite3 and python3" \
		"no libc_malloc_debug.so, sqlite3 or cc"
else
	MALLOC_TRACE=$T/sq.mtrace LD_PRELOAD=$DBG:$T/shim.so sqlite3 :memory: \
		"create table t(a, b);
		 with recursive c(x) as (select 1 union all select x + 1 from c
		                         where x < 3000)
		 insert into t select x, printf('%0200d', x) from c;
		 create index i on t(b);
		 update t set b = b || b where a % 3 = 0;
		 select count(*), sum(length(b)) from t;" >/dev/null
	# The real interpreter, not a wrapper script that would fork.
	PY=$(python3 -c 'import sys; print(sys.executable)')
	MALLOC_TRACE=$T/py.mtrace LD_PRELOAD=$DBG:$T/shim.so "$PY" "$HT_TOP/tests/tools/pythreads.py" >/dev/null
	for p in sq py; do
		f=$T/$p.mtrace
		"$HEAPTAPE" convert "$f" "$T/$p.htape" 2>>"$T/err"
		rc=$?
		# Lines per kind in the log, events per kind in the trace.
		awk '{o = ($1 == "@") ? $3 : $1; c[o]++}
		     END {printf "malloc %d free %d realloc %d\n",
			  c["+"], c["-"], c[">"] + c["!"]}' "$f" >"$T/$p.want"
		"$DUMP" android "$T/$p.htape" 2>/dev/null | awk '
		     {c[$2]++} END {printf "malloc %d free %d realloc %d\n",
			  c["malloc"], c["free"], c["realloc"]}' >"$T/$p.got"
		check "mtrace $p ($(wc -l <"$f") lines, detected by content): \
events per kind = lines per kind ($(cat "$T/$p.want"))" \
			eval '[ $rc = 0 ] && [ $(wc -l <"$f") -gt 1000 ] &&
			      cmp -s "$T/$p.want" "$T/$p.got"'
		sed -e 's/^@ .*\] //' -e '/^= /d' "$f" >"$T/$p.plain"
		"$DUMP" mtrace "$T/$p.htape" >"$T/$p.back" 2>>"$T/err"
		check "mtrace $p: the trace prints back as the log without \
callers" \
			cmp -s "$T/$p.plain" "$T/$p.back"
	done
	check "mtrace: metadata says one thread, no tids, 64-bit pointers" \
		[ "$(meta trace.source "$T/sq.htape")" = mtrace -a \
		  "$(meta trace.has_tid "$T/sq.htape")" = 0 -a \
		  "$(meta trace.has_time "$T/sq.htape")" = 0 -a \
		  "$(meta import.threads "$T/sq.htape")" = 1 -a \
		  "$(meta process.pointer_bits "$T/sq.htape")" = 64 ]
	# Every line kind, failed calls included, from a real program.
	MALLOC_TRACE=$T/k.mtrace LD_PRELOAD=$DBG \
		"$HT_BUILD/tests/progs/mtrace_kinds" >/dev/null
	"$HEAPTAPE" convert "$T/k.mtrace" "$T/k.htape" 2>>"$T/err"
	sed -e 's/^@ .*\] //' -e '/^= /d' "$T/k.mtrace" >"$T/k.plain"
	"$HEAPTAPE" stat --json "$T/k.htape" >"$T/k.json" 2>>"$T/err"
	check "mtrace, every line kind (+ (nil), !, < >, =, callers): prints \
back as the log; 2 failed calls, none unknown" \
		eval 'grep -q "^! " "$T/k.plain" &&
		      grep -q "^+ (nil) " "$T/k.plain" &&
		      "$DUMP" mtrace "$T/k.htape" | cmp -s "$T/k.plain" - &&
		      grep -q "\"failed_calls\": 2," "$T/k.json" &&
		      grep -q "\"unknown_frees\": 0," "$T/k.json"'
	zstd -q -c "$T/sq.mtrace" >"$T/sq.mtrace.zst"
	"$HEAPTAPE" convert "$T/sq.mtrace.zst" "$T/sqz.htape" 2>>"$T/err"
	"$DUMP" mtrace "$T/sqz.htape" >"$T/sqz.back" 2>>"$T/err"
	check "mtrace as .zst, detected by content: same events" \
		cmp -s "$T/sq.plain" "$T/sqz.back"
fi

# --- replay --------------------------------------------------------------
# Every call (all events but the 357 thread exits) on each allocator.
"$HEAPTAPE" replay -a glibc -a jemalloc -a mimalloc -a tcmalloc \
	"$T/sui.htape" >"$T/replay.out" 2>&1
rc=$?
check "systemui import replays on glibc, jemalloc, mimalloc, tcmalloc: \
786454 events, 786097 calls each" \
	eval '[ $rc = 0 ] &&
	      grep -q "786454 events, 393 threads" "$T/replay.out" &&
	      grep -Eq "^calls +786097 +786097 +786097 +786097 *$" \
	              "$T/replay.out"'
if [ -e "$T/py.htape" ]; then
	"$HEAPTAPE" replay "$T/py.htape" >"$T/replay2.out" 2>&1
	rc=$?
	ev=$(meta import.events "$T/py.htape")
	check "python3 mtrace import replays (all its $ev events)" \
		eval '[ $rc = 0 ] && ! grep -q warning "$T/replay2.out" &&
		      grep -q "^replay of .*: $ev events" "$T/replay2.out"'
fi
"$HEAPTAPE" replay --timing=recorded "$T/sui.htape" >"$T/replay3.out" 2>&1
rc=$?
check "replay --timing=recorded refuses a trace without time" \
	eval '[ $rc = 1 ] && grep -q "no real time" "$T/replay3.out"'
# Android timestamps count from boot: --start/--end count from the
# trace's first event, as for any trace, and the origin is kept.
python3 -c "
with open('$T/and_t.txt', 'w') as f:
    for i in range(1000):
        t = 5000000000000 + i * 100000
        f.write(f'10: malloc 0x{0x1000 + i * 16:x} 16 {t} {t + 50}\n')"
"$HEAPTAPE" convert --start 10ms --end 20ms "$T/and_t.txt" "$T/andw.htape" 2>>"$T/err"
"$HEAPTAPE" convert "$T/and_t.txt" "$T/andf.htape" 2>>"$T/err"
"$HEAPTAPE" convert --start 10ms --end 20ms "$T/andf.htape" "$T/andf.csv" 2>>"$T/err"
check "android with times: --start 10ms --end 20ms keeps 100 events, as the window of the whole import" \
	eval '[ "$("$HEAPTAPE" stat --json "$T/andw.htape" | python3 -c "import json,sys; print(json.load(sys.stdin)[\"events\"])")" = 100 ] &&
	      "$HEAPTAPE" convert "$T/andw.htape" "$T/andw.csv" 2>>"$T/err" && cmp -s "$T/andw.csv" "$T/andf.csv"'
echo "# stderr of the conversions:"
sed 's/^/# /' "$T/err" | head -20
