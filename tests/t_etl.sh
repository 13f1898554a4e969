#!/bin/sh
# t_etl.sh - the .etl reader and converter (issue 6, ../shared/docs/ETL.md):
# - `heaptape stat --json` of the ten real files in $SHARED/data/etl gives
#   exactly the counts of reference/event_counts_by_type.txt (every kind,
#   header-type totals, buffers, clock, lost counters);
# - times (to the printed 0.001 ms), processor, data length, PID and TID of
#   every event in the four TraceEvent baselines;
# - generated heap traces (tests/tools/etlgen.c: SYSTEM64 + SYSTEM32
#   processes, interleaved per-CPU buffers at odd offsets, stacks, moving
#   and in-place reallocs logged with their extra Alloc+Free, lost-events
#   flag) convert to exactly the generated events, per process, and replay;
# - truncated, bit-flipped and corrupted files fail with the offset and
#   leave no output; --salvage skips the bad buffer and counts it.
set -u
T=0
FAILED=0
ok() { T=$((T + 1)); echo "ok $T - $1"; }
nok() { T=$((T + 1)); FAILED=1; echo "not ok $T - $1"; }
check() { # what command...
	what=$1; shift
	if "$@"; then ok "$what"; else nok "$what"; fi
}

D=$SHARED/data/etl
REF=$D/reference
W=$HT_TMP/etl
GEN=$HT_BUILD/tests/etlgen
DUMP=$HT_BUILD/tests/etldump
HTDUMP=$HT_BUILD/tests/etl_htdump
CHK=$HT_TOP/tests/tools/etl_check.py
mkdir -p "$W/bin"
# private copies: a rebuild in the shared tree must not swap them mid-run
ORIG_HEAPTAPE=$HEAPTAPE     # replay finds its worker next to it
for b in "$HEAPTAPE" "$GEN" "$DUMP" "$HTDUMP"; do
	cp "$b" "$W/bin/" || exit 1
done
HEAPTAPE=$W/bin/heaptape GEN=$W/bin/etlgen DUMP=$W/bin/etldump
HTDUMP=$W/bin/etl_htdump

# 1. reference counts of the ten real files
n=0
for f in "$D"/*.etl; do
	b=$(basename "$f")
	n=$((n + 1))
	if "$HEAPTAPE" stat --json "$f" >"$W/$b.json" 2>"$W/$b.err" &&
	   python3 "$CHK" counts "$REF/event_counts_by_type.txt" "$b" \
		"$W/$b.json" >"$W/$b.chk" 2>&1; then
		ok "stat --json $b: $(tail -1 "$W/$b.chk")"
	else
		nok "stat --json $b"
		cat "$W/$b.err" "$W/$b.chk" | head -20 | sed 's/^/# /'
	fi
done
[ "$n" = 10 ] && ok "ten real files" || nok "ten real files (found $n)"

# 2. TraceEvent baselines: time, processor, length, PID, TID
for base in "$REF"/microsoft_perfview__*.baseline.txt; do
	name=$(basename "$base" .baseline.txt)
	f=$(ls "$D"/"$name"*.etl 2>/dev/null | head -1)
	if [ -z "$f" ]; then
		nok "baseline $name: no etl"
		continue
	fi
	if "$DUMP" "$f" >"$W/$name.dump" &&
	   python3 "$CHK" baseline "$base" "$W/$name.dump" >"$W/$name.bchk"
	then
		ok "baseline $name: $(tail -1 "$W/$name.bchk" | sed 's/.*: //')"
	else
		nok "baseline $name"
		head -20 "$W/$name.bchk" | sed 's/^/# /'
	fi
done

# text stat of a compressed file, and the JSON is valid with the keys
check "stat text of a compressed relogged file" sh -c \
	"'$HEAPTAPE' stat '$D/microsoft_perfview__net.4.5.2.x64.etl' |
	 grep -q '^events *179474'"
check "stat --json keys" python3 -c "
import json,sys
d=json.load(open('$W/microsoft_perfview__net.4.5.2.x64.etl.json'))
for k in ('events','heap_events','kinds','lost_events','lost_buffers',
          'buffers','processes','pointer_size','clock_type','perf_freq',
          'start_time'):
    assert k in d, k
assert d['compressed_buffers'] == 359 and d['pointer_size'] == 8
names = {p['pid']: p['name'] for p in d['processes']}
assert names.get(4) == 'System', names.get(4)
"

# 3. generated heap traces
gen_compare() { # name etlgen-options...
	name=$1; shift
	rm -f "$W/$name".*
	"$GEN" "$@" --expect "$W/$name.exp" "$W/$name.etl" >"$W/$name.sum" ||
		return 1
	"$HEAPTAPE" convert "$W/$name.etl" "$W/$name.htape" \
		>"$W/$name.names" 2>"$W/$name.err" || return 1
	grep -q "^$W/$name.1000.htape: pid 1000 (app64.exe)" \
		"$W/$name.names" || return 1
	grep -q "^$W/$name.2000.htape: pid 2000 (app32.exe)" \
		"$W/$name.names" || return 1
	"$HTDUMP" "$W/$name.1000.htape" "$W/$name.2000.htape" \
		>"$W/$name.got" || return 1
	grep -v '^#' "$W/$name.got" | sort -k1,1n -k4,4n >"$W/$name.got.s"
	sort -k1,1n -k4,4n "$W/$name.exp" >"$W/$name.exp.s"
	[ -s "$W/$name.exp.s" ] && cmp -s "$W/$name.exp.s" "$W/$name.got.s"
}
sumv() { sed -n "s/^$2 //p" "$W/$1.sum"; }
check "generated 64-bit logger, 2 CPUs: converted events = generated" \
	gen_compare g1
check "generated 32-bit logger, 3 CPUs, 4 KiB buffers, QPC 3.579545 MHz" \
	gen_compare g2 --logger32 --cpus 3 --bufsize 4096 \
	--freq 3579545 --seed 7 --heap-events 5000
check "generated 8 CPUs, 1 KiB buffers, stack key after every heap event" \
	gen_compare g3 --cpus 8 --bufsize 1024 --stack-every 1 --stack-keys \
	--seed 3
check "generated COMPACT64/COMPACT32 heap events with a PMC word, 4 CPUs" \
	gen_compare g4 --compact --pmc --cpus 4 --bufsize 2048 --seed 11
check "generated 300k heap events (thread batches written mid-way)" \
	gen_compare g7 --heap-events 300000 --stack-every 0 --seed 9
check "generated with clock type 2 (FILETIME timestamps)" \
	gen_compare g5 --clock 2 --seed 5
check "generated with clock type 3 (CPU cycles at CpuSpeedInMHz)" \
	gen_compare g6 --clock 3 --seed 6 --logger32
check "stat of the COMPACT/PMC file: every header type and the total" \
	python3 -c "
import json, subprocess
d = json.loads(subprocess.check_output(['$HEAPTAPE', 'stat', '--json',
                                        '$W/g4.etl']))
assert d['events'] == $(sumv g4 events), (d['events'], $(sumv g4 events))
ht = d['header_types']
for h in ('COMPACT64', 'COMPACT32', 'PERFINFO64', 'PERFINFO32', 'MESSAGE',
          'EVENT_HEADER64', 'EVENT_HEADER32', 'FULL_HEADER32', 'INSTANCE64',
          'SYSTEM64'):
    assert ht.get(h, 0) > 0, (h, ht)
assert d['heap_events'] == $(sumv g4 heap_events)
"
check "stack keys (types 37/38) matched to every heap event" \
	grep -q "^# meta etl.heap_events_with_stack=$(sed -n 's/^stacks //p' \
	"$W/g3.sum")\$" "$W/g3.got"

check "metadata: names, pointer bits, dropped duplicates, stacks, losses" \
	python3 -c "
import sys
def meta(p):
    m, loss = {}, 0
    for l in open(p):
        if l.startswith('# meta '):
            k, v = l[7:].rstrip('\n').split('=', 1); m[k] = v
        elif l.startswith('# loss '):
            loss += 1
    return m, loss
a = open('$W/g1.got').read().split('# events')
m, loss = meta('$W/g1.got')
assert m['trace.source'] == 'etl' and m['clock.source'] == 'qpc'
assert m['etl.realloc_duplicates_dropped'] == '$(sumv g1 duplicates)', m
assert m['etl.heap_events_with_stack'] == '$(sumv g1 stacks)', m
assert m['etl.events_lost'] == '3'
assert loss >= 4, loss
for l in open('$W/g1.got'):
    if l.startswith('# meta process.pid=1000'): break
else: sys.exit('no pid 1000')
"
check "pointer bits and exe per process" sh -c \
	"grep -q '^# meta process.pointer_bits=32' '$W/g1.got' &&
	 grep -q '^# meta process.pointer_bits=64' '$W/g1.got' &&
	 grep -q '^# meta process.exe=app32.exe' '$W/g1.got'"
check "stat of a generated file: heap events, processes, lost flags" \
	python3 -c "
import json, subprocess
d = json.loads(subprocess.check_output(['$HEAPTAPE', 'stat', '--json',
                                        '$W/g1.etl']))
assert d['heap_events'] == $(sumv g1 heap_events), d['heap_events']
assert d['stack_events'] == $(sumv g1 stacks)
assert d['lost_events'] == 3 and d['buffers_events_lost_flag'] == 1
p = {x['pid']: x for x in d['processes']}
assert p[1000]['name'] == 'app64.exe' and p[2000]['name'] == 'app32.exe'
assert p[1000]['heap_events'] + p[2000]['heap_events'] == d['heap_events']
k = {(x.get('group'), x.get('type'), x.get('header')): x['count']
     for x in d['kinds']}
assert k[('Heap', 33, 'SYSTEM32')] > 0 and k[('Heap', 33, 'SYSTEM64')] > 0
"
pid_only() {
	rm -f "$W/p.htape"
	"$HEAPTAPE" convert --pid 2000 "$W/g1.etl" "$W/p.htape" \
		>"$W/p.out" 2>&1 || return 1
	[ ! -e "$W/p.2000.htape" ] || return 1
	"$HTDUMP" "$W/p.htape" | grep -v '^#' | sort -k1,1n -k4,4n \
		>"$W/p.got" || return 1
	grep '^2000 ' "$W/g1.exp.s" | cmp -s - "$W/p.got"
}
check "--pid 2000 writes one output with exactly that process" pid_only
op_filter() {
	rm -f "$W/op.htape"
	"$HEAPTAPE" convert --pid 1000 --op HeapAlloc "$W/g1.etl" \
		"$W/op.htape" >/dev/null 2>&1 || return 1
	"$HTDUMP" "$W/op.htape" | grep -v '^#' | sort -k1,1n -k4,4n \
		>"$W/op.got" || return 1
	awk '$1 == 1000 && $3 == 17' "$W/g1.exp.s" | cmp -s - "$W/op.got"
}
check "--op HeapAlloc: only real allocations (realloc duplicates first)" \
	op_filter
tid_limit() {
	rm -f "$W"/tl*.htape
	"$HEAPTAPE" convert --tid 1100 "$W/g1.etl" "$W/tl.htape" \
		>/dev/null 2>&1 || return 1
	ls "$W"/tl*.htape | grep -qv '/tl.htape$' && return 1
	"$HTDUMP" "$W/tl.htape" | grep -v '^#' | sort -k1,1n -k4,4n \
		>"$W/tl.got" || return 1
	awk '$2 == 1100' "$W/g1.exp.s" | cmp -s - "$W/tl.got" || return 1
	rm -f "$W"/tl*.htape
	"$HEAPTAPE" convert --limit 100 --pid 2000 "$W/g1.etl" \
		"$W/tl.htape" >/dev/null 2>&1 || return 1
	[ "$("$HTDUMP" "$W/tl.htape" | grep -vc '^#')" = 100 ]
}
check "--tid one thread: one output; --limit 100: 100 events" tid_limit

replay_one() {
	"$ORIG_HEAPTAPE" replay --help >/dev/null 2>&1 || return 2
	"$ORIG_HEAPTAPE" replay --json "$W/replay.json" "$W/g1.1000.htape" \
		>/dev/null 2>"$W/replay.err" || return 1
	python3 -c "
import json
d = json.load(open('$W/replay.json'))
a = d['allocators'][0]
assert a['status'] == 'ok' and a['events'] > 0, a
"
}
replay_one
case $? in
0) ok "converted trace replays (heaptape replay, glibc)" ;;
2) ok "converted trace replays # SKIP heaptape replay not available" ;;
*) nok "converted trace replays"; head -5 "$W/replay.err" | sed 's/^/# /' ;;
esac

noheap() {
	rm -f "$W/nh.htape"
	"$HEAPTAPE" convert "$D/microsoft_perfview__primitive-types.etl" \
		"$W/nh.htape" 2>"$W/nh.err" || return 1
	grep -q "no heap events" "$W/nh.err" && [ -s "$W/nh.htape" ] &&
	"$HTDUMP" "$W/nh.htape" | grep -q '^# events 0 '
}
check "a real file without heap events converts to an empty trace" noheap

# 4. bad input
# truncated at many offsets: exit 1, one line naming the offset, no output
trunc() { # file step
	f=$1 step=$2
	sz=$(wc -c <"$f")
	off=$step
	while [ "$off" -lt "$sz" ]; do
		head -c "$off" "$f" >"$W/t.etl"
		rm -f "$W"/t*.htape*
		if "$HEAPTAPE" convert --from etl "$W/t.etl" "$W/t.htape" \
			>/dev/null 2>"$W/t.err"; then
			echo "# cut at $off: exit 0"; return 1
		fi
		if [ "$(wc -l <"$W/t.err")" != 1 ] ||
		   ! grep -q "corrupt etl at offset [0-9]" "$W/t.err"; then
			echo "# cut at $off: $(cat "$W/t.err")"; return 1
		fi
		if ls "$W"/t*.htape* >/dev/null 2>&1; then
			echo "# cut at $off: output left"; return 1
		fi
		off=$((off + step))
	done
}
check "generated file truncated at 61 offsets: error with offset" \
	trunc "$W/g1.etl" $(( $(wc -c <"$W/g1.etl") / 62 + 1 ))
check "compressed relogged file truncated every 97 bytes" \
	trunc "$D/microsoft_perfview__SelfDescribingSingleEvent.etl" 97
check "buffer-boundary cut is caught by BuffersWritten" sh -c \
	"head -c 66560 '$W/g1.etl' >'$W/b.etl'
	 ! '$HEAPTAPE' stat '$W/b.etl' >/dev/null 2>'$W/b.err' &&
	 grep -q 'offset 66560: file ends after 2 of' '$W/b.err'"

flips() { # file count
	python3 - "$1" "$2" "$HEAPTAPE" "$W/flip.etl" <<'EOF'
import random, subprocess, sys
path, n, ht, tmp = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
data = open(path, "rb").read()
random.seed(6)
for i in range(n):
    b = bytearray(data)
    for k in range(random.randint(1, 6)):
        lim = len(b) if random.random() < 0.5 else min(len(b), 4096)
        b[random.randrange(lim)] ^= 1 << random.randrange(8)
    open(tmp, "wb").write(b)
    for cmd in (["stat", "--json"], ["stat", "--salvage"]):
        r = subprocess.run([ht] + cmd + [tmp], capture_output=True,
                           text=True, timeout=30)
        if r.returncode not in (0, 1) or (r.returncode == 1 and
                                          "offset" not in r.stderr):
            print("# flip %d %s: exit %d %s" % (i, cmd, r.returncode,
                                                r.stderr[:200]))
            sys.exit(1)
EOF
}
check "100 bit-flipped generated files: exit 0 or 1 with offset" \
	flips "$W/g2.etl" 100
check "100 bit-flipped compressed files: exit 0 or 1 with offset" \
	flips "$D/microsoft_perfview__SelfDescribingSingleEvent.etl" 100

# a corrupt event marker in the second data buffer of the generated file
salvage() {
	python3 - "$W/g1.etl" "$W/c.etl" <<'EOF'
import sys, struct
b = bytearray(open(sys.argv[1], "rb").read())
off = 0x400 + struct.unpack_from("<I", b, 0x400)[0]   # 2nd data buffer
b[off + 0x48:off + 0x4c] = b"\x12\x34\x56\x78"
open(sys.argv[2], "wb").write(b)
print(off)
EOF
}
boff=$(salvage)
strict_bad() {
	rm -f "$W"/c*.htape*
	! "$HEAPTAPE" convert "$W/c.etl" "$W/c.htape" 2>"$W/c.err" &&
	grep -q "corrupt etl at offset $boff: bad event marker" "$W/c.err" &&
	! ls "$W"/c*.htape* >/dev/null 2>&1
}
check "corrupt buffer: error names the buffer offset $boff, no output" \
	strict_bad
salvage_bad() {
	"$HEAPTAPE" convert --salvage "$W/c.etl" "$W/c.htape" \
		>/dev/null 2>"$W/cs.err" || return 1
	grep -q "skipped 1 bad buffers.*offset $boff" "$W/cs.err" || return 1
	a=$("$HTDUMP" "$W/c.1000.htape" "$W/c.2000.htape" | grep -vc '^#')
	b=$(wc -l <"$W/g1.exp")
	[ "$a" -gt 0 ] && [ "$a" -lt "$b" ] &&
	"$HTDUMP" "$W/c.1000.htape" | grep -q '^# meta etl.bad_buffers=1'
}
check "--salvage skips the bad buffer, counts it, converts the rest" \
	salvage_bad
check "stat --salvage --json counts the bad buffer" sh -c \
	"'$HEAPTAPE' stat --salvage --json '$W/c.etl' 2>/dev/null |
	 grep -q '\"bad_buffers\": 1,'"

# a compressed buffer that does not decompress to FilledBytes
badcomp() {
	python3 - "$D/microsoft_perfview__SelfDescribingSingleEvent.etl" \
		"$W/z.etl" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[0x400 + 0x30] ^= 0x10        # FilledBytes of the compressed buffer
open(sys.argv[2], "wb").write(b)
EOF
	! "$HEAPTAPE" stat "$W/z.etl" >/dev/null 2>"$W/z.err" &&
	grep -q "offset 1024: compressed buffer" "$W/z.err"
}
check "compressed buffer with a wrong FilledBytes: error at offset 1024" \
	badcomp


# A moving HeapReAlloc may come with an Alloc(new) and a Free(old) of its
# own (ETL.md 7.4), dropped as duplicates; real ones next to it stay:
# an Alloc(new) before the new block was freed, an Alloc(old) after the
# old address was handed out again.
MK=$HT_TOP/tests/tools/etlmk.py
"$GEN" --heap-events 10 --no-lost "$W/mkbase.etl" >/dev/null
dedupe() { # name want-events events...
	n=$1 want=$2; shift 2
	python3 "$MK" "$W/mkbase.etl" "$W/$n.etl" "$@" &&
	"$HEAPTAPE" convert "$W/$n.etl" "$W/$n.htape" 2>/dev/null &&
	[ "$("$HTDUMP" "$W/$n.htape" | grep -vc '^#')" = "$want" ]
}
check "realloc duplicates: Alloc(new) and Free(old) around a moving ReAlloc dropped" \
	dedupe dup 3 alloc:c000:64 alloc:b000:c8 realloc:b000:c000:c8:64 free:c000 free:b000
check "realloc duplicates: an Alloc of the new address freed before the ReAlloc stays" \
	dedupe keepnew 5 alloc:c000:64 alloc:b000:40 free:b000 realloc:b000:c000:c8:64 free:b000
check "realloc duplicates: the old address allocated again after the ReAlloc stays" \
	dedupe keepold 5 alloc:c000:64 realloc:b000:c000:c8:64 alloc:c000:32 free:c000 free:b000

# --salvage after one damaged BufferSize in a compressed relogged file
# (buffers of many sizes, ETL.md 1): the next buffer is found, not lost
# with the rest of the file
salv() {
	python3 - "$D/microsoft_perfview__net.4.5.2.x64.etl" "$W/nb.etl" <<'EOF'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
offs, off = [], 0
while off < len(b):
    offs.append(off)
    off += struct.unpack_from("<I", b, off)[0]
struct.pack_into("<I", b, offs[10], 0xdeadbeef)
open(sys.argv[2], "wb").write(b)
EOF
	"$HEAPTAPE" stat --salvage --json "$W/nb.etl" 2>/dev/null >"$W/nb.json" &&
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["bad_buffers"] == 1 and d["events"] > 178000, (d["bad_buffers"], d["events"])' "$W/nb.json"
}
check "etl --salvage: one bad BufferSize of 360 buffers costs 1 buffer, not the rest of the file" salv
echo "1..$T"
exit $FAILED
