#!/bin/sh
# t_cli.sh - `heaptape cat`, `verify`, `convert in.htape out.htape` and the
# command-line conventions: cat prints exactly the events written, filters
# work, damage is reported with file and offset, verify catches cuts and
# bit flips, recode keeps the events, usage errors exit 2.
set -u
H=$HEAPTAPE
MK=$HT_BUILD/tests/mktrace_stat
d=$HT_TMP/cli
mkdir -p "$d"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); echo "not ok $n - $1"; }
# expect STATUS what command...: exit status must be STATUS
expect() {
	want=$1 what=$2; shift 2
	"$@" >"$d/out" 2>"$d/err"
	rc=$?
	if [ "$rc" = "$want" ]; then ok "$what"; else
		no "$what (exit $rc, wanted $want)"; sed 's/^/# /' "$d/err" | head -5
	fi
}

"$MK" -n 30000 -t 5 -s 11 -b 1000 --windows -c "$d/a.want" "$d/a.htape" "$d/a.txt"

# cat prints the events written, in order, formatted by ht_event_format.
expect 0 "cat exits 0" "$H" cat "$d/a.htape"
cmp -s "$d/out" "$d/a.want" && ok "cat output equals the events written" ||
	no "cat output equals the events written"
[ "$(wc -l <"$d/out")" = 30000 ] && ok "cat prints one line per event" ||
	no "cat prints one line per event"
"$MK" -n 1 -c "$d/one.want" "$d/one.htape" "$d/one.txt"
"$H" cat "$d/one.htape" | cmp -s - "$d/one.want" && ok "cat of a one-event trace" ||
	no "cat of a one-event trace"
"$MK" -n 0 -c "$d/zero.want" "$d/zero.htape" "$d/zero.txt"
expect 0 "cat of an empty trace exits 0" "$H" cat "$d/zero.htape"
[ ! -s "$d/out" ] && ok "cat of an empty trace prints nothing" ||
	no "cat of an empty trace prints nothing"

# "-" reads the trace from standard input, for pipelines.
"$H" cat - <"$d/a.htape" >"$d/stdin.out" 2>"$d/stdin.err"
[ $? = 0 ] && cmp -s "$d/stdin.out" "$d/a.want" &&
	ok "cat - reads the trace from standard input" ||
	no "cat - reads the trace from standard input"
echo junk | "$H" cat - >"$d/out" 2>"$d/err"
[ $? = 1 ] && grep -q "'(stdin)': not a heaptape trace at offset 0" "$d/err" &&
	ok "cat - of junk on stdin: exit 1, names stdin and the offset" ||
	no "cat - of junk on stdin: exit 1, names stdin and the offset"

# Decoding and formatting threads do not change a byte: many small
# blocks of 12 threads, with 3 threads, none, and ht_reader_next().
"$MK" -n 50000 -t 12 -s 13 -b 200 --windows -c "$d/m.want" "$d/m.htape" "$d/m.txt"
"$H" cat --jobs 3 "$d/m.htape" >"$d/m3" 2>&1
"$H" cat --jobs 0 "$d/m.htape" >"$d/m0" 2>&1
HEAPTAPE_MERGE=reader "$H" cat --jobs 0 "$d/m.htape" >"$d/mr" 2>&1
cmp -s "$d/m3" "$d/m.want" && cmp -s "$d/m0" "$d/m.want" &&
	cmp -s "$d/mr" "$d/m.want" &&
	ok "cat: same output with 3 threads, none, and the reader's merge" ||
	no "cat: same output with 3 threads, none, and the reader's merge"
# two traces: one time order, with the events of both; a damaged one
# among them ends the output with its own name and offset (stop mode)
"$H" cat --jobs 2 "$d/a.htape" "$d/m.htape" >"$d/am" 2>"$d/am.err"
r=$?
sort -s -n -k1,1 "$d/a.want" "$d/m.want" >"$d/am.want"
[ $r = 0 ] && [ "$(wc -l <"$d/am")" = 80000 ] &&
	[ "$(sort "$d/am" | md5sum)" = "$(sort "$d/am.want" | md5sum)" ] &&
	sort -c -s -n -k1,1 "$d/am" 2>/dev/null &&
	ok "cat of two traces: their 80000 events in one time order" ||
	no "cat of two traces: rc $r, $(wc -l <"$d/am") lines"
msize=$(wc -c <"$d/m.htape")
python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[3])] ^= 0x20
open(sys.argv[2], "wb").write(b)' "$d/m.htape" "$d/mflip.htape" $((msize * 2 / 5))
"$H" cat "$d/a.htape" "$d/mflip.htape" >"$d/af" 2>"$d/af.err"
[ $? = 1 ] && [ -s "$d/af" ] && [ "$(wc -l <"$d/af.err")" = 1 ] &&
	grep -q "'$d/mflip.htape': .* at offset [0-9]" "$d/af.err" &&
	ok "cat of a good and a damaged trace: events, then one line naming the damaged one" ||
	no "cat of a good and a damaged trace: '$(cat "$d/af.err")'"
# convert --salvage of a good and a damaged trace to one CSV: the good
# one whole, the damaged one without its bad block, one warning naming it
"$H" convert --salvage --no-progress "$d/a.htape" "$d/mflip.htape" "$d/af.csv" 2>"$d/afc.err"
r=$?
na=$(awk -F, 'NR > 1 && $2 == 100' "$d/af.csv" | wc -l)
nm=$(($(wc -l <"$d/af.csv") - 1))
[ $r = 0 ] && [ "$(grep -c "'$d/mflip.htape': 1 damaged part skipped" "$d/afc.err")" = 1 ] &&
	[ "$nm" -gt 30000 ] && [ "$nm" -lt 80000 ] &&
	ok "convert --salvage of a good and a damaged trace: $nm rows, one warning naming the damaged one" ||
	no "convert --salvage of several traces: rc $r, $nm rows, '$(cat "$d/afc.err")'"
for mode in "" --salvage; do
	"$H" cat $mode --jobs 3 "$d/mflip.htape" >"$d/f3" 2>"$d/e3"
	r3=$?
	HEAPTAPE_MERGE=reader "$H" cat $mode --jobs 0 "$d/mflip.htape" >"$d/fr" 2>"$d/er"
	rr=$?
	[ $r3 = 1 ] && [ $rr = 1 ] && cmp -s "$d/f3" "$d/fr" && [ -s "$d/f3" ] &&
		cmp -s "$d/e3" "$d/er" &&
		ok "damaged trace ${mode:-(stop mode)}: threads and reader print the same" ||
		{ no "damaged trace ${mode:-(stop mode)}: threads vs reader ($r3 $rr)";
		  sed 's/^/# /' "$d/e3" "$d/er"; }
done

# Filters.
"$H" cat --pid 200 "$d/a.htape" >"$d/f1"
grep -v '^[0-9.]* 200/' "$d/f1" >/dev/null && no "--pid keeps only that process" ||
	{ [ -s "$d/f1" ] && ok "--pid keeps only that process" || no "--pid: nothing printed"; }
[ "$(wc -l <"$d/f1")" = "$(grep -c '^[0-9.]* 200/' "$d/a.want")" ] &&
	ok "--pid keeps every event of that process" || no "--pid keeps every event"
"$H" cat --tid 1001,1003 "$d/a.htape" >"$d/f2"
[ "$(wc -l <"$d/f2")" = "$(grep -c '^[0-9.]* 100/100[13] ' "$d/a.want")" ] &&
	ok "--tid with a list" || no "--tid with a list"
"$H" cat --op free,HeapFree "$d/a.htape" >"$d/f3"
[ "$(wc -l <"$d/f3")" = "$(grep -c '^[0-9.]* [0-9]*/[0-9]* \(free\|HeapFree\) ' "$d/a.want")" ] &&
	ok "--op with names" || no "--op with names"
"$H" cat -n 7 "$d/a.htape" >"$d/f4"
head -n 7 "$d/a.want" | cmp -s - "$d/f4" && ok "-n 7 prints the first 7 events" ||
	no "-n 7 prints the first 7 events"
expect 2 "--op with an unknown name: exit 2" "$H" cat --op nosuchop "$d/a.htape"
expect 2 "--pid without a number: exit 2" "$H" cat --pid x "$d/a.htape"
# cat writes to stdout, and -o is --op: a `-o FILE` slip names the value
(cd "$d" && "$H" cat a.htape -o out.txt) >/dev/null 2>"$d/err"
[ $? = 2 ] && grep -q "not 'out.txt'" "$d/err" && [ ! -e "$d/out.txt" ] &&
	ok "cat -o FILE: exit 2, the value named, no file" ||
	no "cat -o FILE: exit 2, the value named, no file"
expect 2 "cat --to before --from: exit 2" "$H" cat --from 2ms --to 1ms "$d/a.htape"
# a usage error names the option as given, for every command
bad=
for c in "stat --bogus" "stat --jobs" "cat -Z" "convert --level" "verify --nope" \
	 "plot --nope" "replay --nope" "record --nope" "record -o"; do
	set -- $c
	"$H" "$@" >/dev/null 2>"$d/opt.err"
	rc=$?
	o=$2
	[ $rc = 2 ] && grep -q "heaptape $1: .*'$o'" "$d/opt.err" || bad="$bad [$c: $rc $(head -1 "$d/opt.err")]"
done
[ -z "$bad" ] && ok "usage errors name the option (9 commands and cases), exit 2" ||
	no "usage errors name the option:$bad"
expect 2 "convert of several traces to .htape: exit 2" "$H" convert "$d/a.htape" "$d/m.htape" "$d/x.htape"
expect 2 "convert of several traces with --lifetimes: exit 2" "$H" convert --lifetimes "$d/a.htape" "$d/m.htape" "$d/x.csv"
[ ! -e "$d/x.htape" ] && [ ! -e "$d/x.csv" ] && ok "those usage errors write nothing" ||
	no "those usage errors write nothing"

# Damage.  A cut file: the whole blocks, a warning, exit 0 (writer died).
size=$(wc -c <"$d/a.htape")
head -c $((size / 2)) "$d/a.htape" >"$d/cut.htape"
expect 0 "cat of a cut trace exits 0" "$H" cat "$d/cut.htape"
lines=$(wc -l <"$d/out")
cp "$d/out" "$d/cut.out"
# Each thread's blocks were cut at a different point: the lines are a
# subsequence of the events written, not a prefix.
subseq() {
	python3 -c '
import sys
want = open(sys.argv[1]).read().splitlines()
got = open(sys.argv[2]).read().splitlines()
it = iter(want)
assert all(any(g == w for w in it) for g in got)' "$1" "$2"
}
subseq "$d/a.want" "$d/cut.out" && [ "$lines" -gt 0 ] &&
	[ "$lines" -lt 30000 ] && ok "cut trace: the events of its whole blocks ($lines)" ||
	no "cut trace: events of whole blocks ($lines)"
grep -q "cut.htape': offset [0-9]" "$d/err" && ok "cut trace: a warning with the offset" ||
	no "cut trace: a warning with the offset"
expect 1 "cat --strict of a cut trace exits 1" "$H" cat --strict "$d/cut.htape"
# A flipped bit inside the file: stop mode prints what it read, the error
# with the offset, exit 1; salvage skips the block.
python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[3])] ^= 0x08
open(sys.argv[2], "wb").write(b)' "$d/a.htape" "$d/flip.htape" $((size / 2))
expect 1 "cat of a damaged trace exits 1" "$H" cat "$d/flip.htape"
stop_lines=$(wc -l <"$d/out")
grep -q "^heaptape cat: '.*flip.htape': .* offset [0-9]" "$d/err" &&
	[ "$(wc -l <"$d/err")" = 1 ] && ok "damaged trace: one error line with file and offset" ||
	{ no "damaged trace: one error line"; sed 's/^/# /' "$d/err"; }
expect 1 "cat --salvage of a damaged trace exits 1" "$H" cat --salvage "$d/flip.htape"
salv_lines=$(wc -l <"$d/out")
[ "$salv_lines" -gt "$stop_lines" ] && [ "$salv_lines" -lt 30000 ] &&
	ok "--salvage prints more events ($salv_lines) than stop mode ($stop_lines)" ||
	no "--salvage prints more events ($salv_lines vs $stop_lines)"
grep -q "warning: '.*flip.htape': offset [0-9]" "$d/err" &&
	ok "--salvage warns with the offset" || no "--salvage warns with the offset"
# Every line salvage printed is one the writer wrote, in order.
subseq "$d/a.want" "$d/out" &&
	ok "--salvage prints a subsequence of the events written" ||
	no "--salvage prints a subsequence of the events written"

# verify.
expect 0 "verify of a good trace exits 0" "$H" verify "$d/a.htape"
grep -q "a.htape: ok, 30000 events, [0-9]* blocks, complete" "$d/out" &&
	ok "verify summary of a good trace" || no "verify summary: $(cat "$d/out")"
expect 0 "verify --quiet of a good trace prints nothing" "$H" verify -q "$d/a.htape"
[ ! -s "$d/out" ] && ok "verify --quiet is quiet" || no "verify --quiet is quiet"
expect 1 "verify of a cut trace exits 1" "$H" verify "$d/cut.htape"
grep -q "cut.htape: 1 problem, $lines events readable, [0-9]* blocks, truncated at offset [0-9]" "$d/out" &&
	ok "verify of a cut trace: readable events and where it ends" ||
	no "verify of a cut trace: $(cat "$d/out")"
grep -q "^heaptape verify: '.*cut.htape': offset [0-9]*: " "$d/err" &&
	ok "verify of a cut trace: the problem with its offset" || no "verify cut: problem line"
head -c $((size - 80)) "$d/a.htape" >"$d/noend.htape"
expect 1 "verify of a trace without END block exits 1" "$H" verify "$d/noend.htape"
grep -q "30000 events readable.*truncated at offset $((size - 80))" "$d/out" &&
	grep -q "offset $((size - 80)): trace has no END block" "$d/err" &&
	ok "no END block: all events readable, truncation offset" ||
	no "no END block: $(cat "$d/out" "$d/err")"
expect 1 "verify of a bit-flipped trace exits 1" "$H" verify "$d/flip.htape"
grep -q "^heaptape verify: '.*flip.htape': offset [0-9]*: checksum mismatch" "$d/err" &&
	ok "verify names the checksum mismatch and its offset" ||
	{ no "verify of a flipped trace"; sed 's/^/# /' "$d/err"; }
grep -q "^heaptape verify: '.*flip.htape': offset [0-9]*: checksum mismatch (.*; [0-9]* events lost)$" "$d/err" &&
	ok "verify says how many events the damaged block held" ||
	{ no "verify: events lost not said"; sed 's/^/# /' "$d/err"; }
expect 1 "verify of several traces exits 1 if one is bad" \
	"$H" verify "$d/a.htape" "$d/flip.htape" "$d/one.htape"
[ "$(grep -c ': ok, ' "$d/out")" = 2 ] && ok "verify reports each trace" ||
	no "verify reports each trace"
expect 1 "verify of a missing file exits 1" "$H" verify "$d/none.htape"
grep -q "cannot open '.*none.htape': No such file" "$d/err" &&
	ok "missing file: clear message" || no "missing file: clear message"
# Not a trace, empty, a bad file header, only a header.
: >"$d/empty.htape"
printf 'junk' >"$d/junk.htape"
head -c 64 "$d/a.htape" >"$d/hdr.htape"
python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[20] ^= 1
open(sys.argv[2], "wb").write(b)' "$d/a.htape" "$d/badhdr.htape"
for f in empty junk badhdr; do
	expect 1 "verify of $f.htape exits 1" "$H" verify "$d/$f.htape"
	grep -q "^heaptape verify: '.*$f.htape': offset [0-9]*: .*(file header.*)$" "$d/err" &&
		ok "verify of $f.htape: one line naming the file header" ||
		no "verify of $f.htape: $(cat "$d/err")"
	expect 1 "cat of $f.htape exits 1" "$H" cat "$d/$f.htape"
done
head -c 10 "$d/a.htape" >"$d/h10.htape"
for c in verify stat cat; do
	"$H" $c "$d/h10.htape" >/dev/null 2>"$d/err"
	grep -q "^heaptape $c: '.*h10.htape': offset 0: file header cut short (10 of 64 bytes)$" "$d/err" &&
		ok "$c of a 10-byte file: the file header is cut short, not a block" ||
		no "$c of a 10-byte file: $(cat "$d/err")"
done
# A damaged file header whose UUID is whole: --salvage reads the blocks.
"$H" stat "$d/badhdr.htape" >/dev/null 2>"$d/err"
grep -q "'.*badhdr.htape': file header damaged (checksum mismatch at offset 56); --salvage" "$d/err" &&
	ok "stat of a damaged file header: says what and what to do" ||
	no "stat of a damaged file header: $(cat "$d/err")"
"$H" cat --salvage "$d/badhdr.htape" >"$d/bh.cat" 2>"$d/err"
rc=$?
"$H" cat "$d/a.htape" >"$d/a.cat" 2>/dev/null
[ $rc = 1 ] && cmp -s "$d/bh.cat" "$d/a.cat" &&
	grep -q "offset 56: .*file header hash" "$d/err" &&
	ok "cat --salvage of a damaged file header: every event, a warning, exit 1" ||
	no "cat --salvage of a damaged file header: exit $rc $(cat "$d/err")"
expect 1 "verify of a trace that is only a header exits 1" "$H" verify "$d/hdr.htape"
grep -q "0 events readable, 0 blocks, truncated at offset 64" "$d/out" &&
	ok "header only: 0 events, truncated at 64" || no "header only: $(cat "$d/out")"

# A conversion ended by SIGTERM or SIGHUP removes its temporary file and
# still dies of the signal.
"$MK" -n 1500000 -t 4 -s 31 "$d/sig.htape" "$d/sig.txt"
for s in TERM HUP; do
	rm -f "$d"/sigout.htape*
	"$H" convert --level 19 "$d/sig.htape" "$d/sigout.htape" 2>/dev/null &
	p=$!
	i=0
	while [ $i -lt 500 ] && ! ls "$d"/sigout.htape.tmp.* >/dev/null 2>&1; do
		sleep 0.01; i=$((i + 1))
	done
	kill -$s $p
	wait $p
	rc=$?
	left=$(ls "$d"/sigout.htape* 2>/dev/null)
	[ $i -lt 500 ] && [ $rc -gt 128 ] && [ -z "$left" ] &&
		ok "SIG$s during convert: dies of it (exit $rc), no file left" ||
		no "SIG$s during convert: exit $rc, left '$left' (waited $i)"
done

# Bit flips all over a small trace: verify must catch every one.
"$MK" -n 300 -t 2 -s 12 -b 100 "$d/s.htape" "$d/s.txt"
missed=$(python3 - "$d/s.htape" "$d/sflip.htape" "$H" <<'EOF'
import random, subprocess, sys
src = open(sys.argv[1], "rb").read()
random.seed(7)
missed = 0
positions = random.sample(range(len(src) * 8), min(250, len(src) * 8))
for bit in positions:
    b = bytearray(src)
    b[bit // 8] ^= 1 << (bit % 8)
    open(sys.argv[2], "wb").write(b)
    r = subprocess.run([sys.argv[3], "verify", "-q", sys.argv[2]],
                       capture_output=True)
    if r.returncode != 1 or b"offset" not in r.stderr:
        missed += 1
        print("# missed bit %d: exit %d" % (bit, r.returncode), file=sys.stderr)
print(missed)
EOF
)
[ "$missed" = 0 ] && ok "verify detects 250 of 250 random single-bit flips" ||
	no "verify missed $missed of 250 single-bit flips"

# Outputs that are not files are written in place: /dev/null stays the
# device (a rename over it would make it a file: every later daemon(3)
# fails), and a FIFO gets the whole CSV.
expect 0 "convert to /dev/null exits 0" "$H" convert "$d/a.htape" /dev/null --to csv
expect 0 "plot -o /dev/null exits 0" "$H" plot "$d/a.htape" -o /dev/null
[ -c /dev/null ] && ok "/dev/null is still a character device" ||
	no "/dev/null is still a character device: $(ls -l /dev/null)"
rm -f "$d/outfifo.csv"
if mkfifo "$d/outfifo.csv" 2>/dev/null; then
	timeout 20 cat "$d/outfifo.csv" >"$d/fromfifo.csv" &
	cpid=$!
	timeout 20 "$H" convert "$d/a.htape" "$d/outfifo.csv" 2>"$d/err"
	rc=$?
	wait $cpid
	"$H" convert "$d/a.htape" "$d/direct.csv" 2>/dev/null
	[ "$rc" = 0 ] && [ -p "$d/outfifo.csv" ] &&
		cmp -s "$d/fromfifo.csv" "$d/direct.csv" &&
		ok "convert into a FIFO: the whole CSV through it, the FIFO left as is" ||
		no "convert into a FIFO (exit $rc): $(head -c 200 "$d/err")"
else
	no "mkfifo failed"
fi
rm -f "$d/outfifo.csv"

# convert in.htape out.htape --level 19: same events, no bigger file,
# metadata, thread names, RSS and losses kept.
expect 0 "convert --level 19 exits 0" "$H" convert "$d/a.htape" "$d/z.htape" --level 19
"$H" cat "$d/z.htape" | cmp -s - "$d/a.want" && ok "recoded trace: same cat output" ||
	no "recoded trace: same cat output"
[ "$(wc -c <"$d/z.htape")" -le "$size" ] &&
	ok "recoded trace is not bigger ($(wc -c <"$d/z.htape") <= $size bytes)" ||
	no "recoded trace is bigger ($(wc -c <"$d/z.htape") > $size)"
"$H" verify -q "$d/z.htape" && ok "recoded trace verifies" || no "recoded trace verifies"
"$H" stat --json "$d/a.htape" >"$d/sa.json"
"$H" stat --json "$d/z.htape" >"$d/sz.json"
python3 -c '
import json, sys
a, z = (json.load(open(p)) for p in sys.argv[1:3])
for k in ("events", "ops", "peak_live_bytes", "unknown_frees", "lost_events",
          "recorded_peak_rss_bytes", "rss_samples", "time_span_ns",
          "per_thread", "size_histogram", "lifetime_histogram"):
    assert a[k] == z[k], (k, a[k], z[k])
for k, v in a["meta"].items():
    if not k.startswith("clock."):
        assert z["meta"].get(k) == v, (k, v, z["meta"].get(k))
' "$d/sa.json" "$d/sz.json" && ok "recoded trace: same stats, metadata, names, RSS, losses" ||
	no "recoded trace: same stats, metadata, names, RSS, losses"
# --block-events: a's blocks hold 1000 events; 65536 a block gives fewer,
# bigger blocks, the same events and a smaller file; 0 is a usage error.
expect 0 "convert --block-events 65536 exits 0" "$H" convert --block-events 65536 \
	"$d/a.htape" "$d/big.htape"
"$H" cat "$d/big.htape" | cmp -s - "$d/a.want" &&
	ok "--block-events: same cat output" || no "--block-events: same cat output"
# sj TRACE EXPR: EXPR of d, the trace's `stat --json`
sj() {
	"$H" stat --json "$1" | python3 -c "import json, sys
d = json.load(sys.stdin); print($2)"
}
nb_a=$(sj "$d/a.htape" 'd["blocks"]')
nb_b=$(sj "$d/big.htape" 'd["blocks"]')
[ "$nb_b" -lt "$nb_a" ] && [ "$(wc -c <"$d/big.htape")" -lt "$size" ] &&
	ok "--block-events 65536: $nb_b blocks (was $nb_a), $(wc -c <"$d/big.htape") < $size bytes" ||
	no "--block-events 65536: $nb_b blocks (was $nb_a), $(wc -c <"$d/big.htape") bytes (was $size)"
# A thread at a time: every block but a thread's last is full, so a
# thread of N events takes ceil(N / 4096) blocks.
expect 0 "convert --block-events 4096 exits 0" "$H" convert --block-events 4096 \
	"$d/a.htape" "$d/b4k.htape"
"$H" cat "$d/b4k.htape" | cmp -s - "$d/a.want" &&
	ok "--block-events 4096: same cat output" || no "--block-events 4096: same cat output"
want=$(sj "$d/a.htape" 'sum((t["events"] + 4095) // 4096 for t in d["per_thread"])')
got=$(sj "$d/b4k.htape" 'd["event_blocks"]')
[ "$got" = "$want" ] && [ "$want" -gt 0 ] &&
	ok "recode fills blocks: $got blocks, the fewest the threads allow" ||
	no "recode fills blocks: $got blocks, want $want"
# Without --block-events, a trace of many threads gets blocks small
# enough that a reader's block of every thread at once stays within
# 256 MiB: 100 threads of 32000 events, 30504 a block, 2 a thread.
"$HT_BUILD/tests/gentrace" -n 32000 -t 100 "$d/t100.htape"
expect 0 "convert of 100 threads exits 0" "$H" convert "$d/t100.htape" "$d/t100r.htape"
set -- $(sj "$d/t100r.htape" 'd["event_blocks"], d["events"]')
[ "$1" = 200 ] && [ "$2" = 3200000 ] &&
	ok "100 threads recoded: $1 blocks of at most 30504 events" ||
	no "100 threads recoded: $1 blocks, $2 events (want 200, 3200000)"
"$H" cat "$d/t100.htape" | md5sum >"$d/t100.want"
"$H" cat "$d/t100r.htape" | md5sum | cmp -s - "$d/t100.want" &&
	ok "100 threads recoded: same cat output" ||
	no "100 threads recoded: same cat output"
rm -f "$d/t100.htape" "$d/t100r.htape"
# --limit takes the first events in time order, as cat shows them.
expect 0 "convert --limit 777 exits 0" "$H" convert --limit 777 \
	"$d/a.htape" "$d/lim.htape"
"$H" cat "$d/lim.htape" >"$d/lim.out"
head -n 777 "$d/a.want" | cmp -s - "$d/lim.out" &&
	ok "convert --limit 777 keeps the first 777 events" ||
	no "convert --limit 777 keeps the first 777 events"
expect 2 "convert --block-events 0 is a usage error" "$H" convert --block-events 0 \
	"$d/a.htape" "$d/b0.htape"
expect 0 "convert with --pid" "$H" convert --pid 200 "$d/a.htape" "$d/p.htape"
"$H" cat --pid 200 "$d/a.htape" >"$d/p.want"
"$H" cat "$d/p.htape" | cmp -s - "$d/p.want" && ok "convert --pid keeps that process" ||
	no "convert --pid keeps that process"
expect 1 "convert of a damaged trace exits 1" "$H" convert "$d/flip.htape" "$d/bad.htape"
[ ! -e "$d/bad.htape" ] && ! ls "$d"/bad.htape.tmp.* >/dev/null 2>&1 &&
	ok "failed convert leaves no output" || no "failed convert leaves no output"

# Usage conventions.
for c in cat stat verify plot; do
	expect 0 "$c --help exits 0" "$H" "$c" --help
	grep -q "^usage: heaptape $c" "$d/out" && ok "$c --help prints usage on stdout" ||
		no "$c --help prints usage on stdout"
	expect 2 "$c --no-such-option exits 2" "$H" "$c" --no-such-option "$d/a.htape"
done
expect 2 "cat without a trace exits 2" "$H" cat
expect 2 "verify without a trace exits 2" "$H" verify
expect 1 "cat of a missing file exits 1" "$H" cat "$d/none.htape"
grep -q "^heaptape cat: cannot open '.*none.htape': No such file or directory$" "$d/err" &&
	ok "cat of a missing file: one clear line" || no "cat of a missing file: message"
expect 0 "heaptape help cat exits 0" "$H" help cat
grep -q "^usage: heaptape cat" "$d/out" && ok "heaptape help cat shows the usage" ||
	no "heaptape help cat shows the usage"
expect 0 "heaptape help lists the commands" "$H" help
for c in cat stat verify plot; do
	grep -q "^  $c  *[a-z]" "$d/out" && ok "help lists $c with a summary" ||
		no "help lists $c with a summary"
done
# Not a regular file.  An endless non-trace is refused at its first
# bytes, not read into memory to the end; a trace from a pipe (a FIFO
# here, <(cmd) in bash) reads whole, as it could be read only once.
expect 1 "stat /dev/zero: refused at once" timeout 20 "$H" stat /dev/zero
grep -q "^heaptape stat: '/dev/zero': not a heaptape trace at offset 0$" "$d/err" &&
	ok "stat /dev/zero: one clear line" || no "stat /dev/zero: message"
rm -f "$d/fifo"
if mkfifo "$d/fifo" 2>/dev/null; then
	cat "$d/a.htape" >"$d/fifo" &
	expect 0 "cat of a trace through a FIFO" timeout 20 "$H" cat "$d/fifo"
	wait
	cmp -s "$d/out" "$d/a.want" && ok "cat through a FIFO: every event" ||
		no "cat through a FIFO: every event"
	# no writer: convert must not open it (it would wait forever)
	expect 1 "convert from a FIFO without --from exits 1" \
		timeout 20 "$H" convert "$d/fifo" "$d/fifo.csv"
	grep -q "unknown input format; name it with --from" "$d/err" &&
		[ ! -e "$d/fifo.csv" ] &&
		ok "convert from a FIFO: asks for --from, writes nothing" ||
		no "convert from a FIFO: asks for --from"
	cat "$d/a.htape" >"$d/fifo" &
	expect 0 "convert --from htape from a FIFO" \
		timeout 20 "$H" convert --from htape "$d/fifo" "$d/fifo.csv"
	wait
	[ "$(wc -l <"$d/fifo.csv")" = 30001 ] &&
		ok "convert --from htape from a FIFO: every event" ||
		no "convert --from htape from a FIFO: $(wc -l <"$d/fifo.csv") lines"
else
	no "mkfifo for the pipe tests"
fi
# make install (DESTDIR, PREFIX): a program built against the installed
# header and library through pkg-config reads a trace, every event and
# its duration, and needs the library by its soname.
inst=$d/inst
if make -s -C "$HT_TOP" O="$HT_BUILD" install DESTDIR="$inst" PREFIX=/usr \
	>"$d/inst.log" 2>&1; then
	cat >"$d/inst.c" <<'EOF'
#include <heaptape.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	struct ht_reader *r;
	struct ht_event ev;
	unsigned long long n = 0, timed = 0;

	if (argc != 2 || ht_reader_open(&r, argv[1], HT_READ_STRICT))
		return 1;
	while (ht_reader_next(r, &ev) == 1) {
		n++;
		timed += ev.dur != 0;
	}
	ht_reader_close(r);
	printf("%llu %llu %s\n", n, timed, HT_VERSION_STRING);
	return 0;
}
EOF
	pc=$inst/usr/lib/pkgconfig
	"$HT_BUILD/tests/gentrace" -d -s 3 -n 4000 -t 2 "$d/inst.htape"
	${CC:-cc} -o "$d/instprog" "$d/inst.c" \
		$(PKG_CONFIG_PATH=$pc pkg-config --define-variable=prefix="$inst/usr" \
			--cflags --libs heaptape) 2>"$d/inst.err"
	got=$(LD_LIBRARY_PATH=$inst/usr/lib "$d/instprog" "$d/inst.htape" 2>&1)
	timed=$("$H" cat "$d/inst.htape" | grep -c ' in [0-9]*ns$')
	need=$(readelf -d "$d/instprog" 2>/dev/null | sed -n 's/.*NEEDED.*\[\(libheaptape[^]]*\)\].*/\1/p')
	ver=$(sed -n 's/^#define HT_VERSION_STRING "\(.*\)"/\1/p' "$HT_TOP/format/heaptape.h")
	[ "$got" = "8000 $timed $ver" ] && [ -f "$inst/usr/lib/$need" ] &&
		[ "$need" = "libheaptape.so.${ver%.*}" ] &&
		[ -x "$inst/usr/bin/heaptape" ] &&
		[ -f "$inst/usr/lib/heaptape/libheaptape-record.so" ] &&
		ok "make install: a program built with pkg-config reads 8000 events ($timed timed), needs $need" ||
		no "make install: a program built with pkg-config reads the trace ('$got', needs '$need')"
	# the .pc names the PREFIX of this install, whatever `make` had
	pfx=$(PKG_CONFIG_PATH=$pc pkg-config --variable=prefix heaptape)
	[ "$pfx" = /usr ] && ok "make install PREFIX=/usr: heaptape.pc says prefix=/usr" ||
		no "make install PREFIX=/usr: heaptape.pc says prefix=$pfx"
else
	no "make install DESTDIR"; sed 's/^/# /' "$d/inst.log" | head -5
fi

# An output that names an input (a typo away: plot t.htape -o t.htape)
# is refused before any work, and the input stays as it was; only
# htape -> htape may replace its input (a recompression in place).
cp "$d/a.htape" "$d/self.htape"
ln -sf self.htape "$d/self-link.htape"
cp "$d/self.htape" "$d/self.orig"
for c in "plot|$H plot $d/self.htape -o $d/self.htape" \
	"plot (a link)|$H plot $d/self.htape -o $d/self-link.htape" \
	"convert to csv|$H convert $d/self.htape $d/self.htape --to csv" \
	"convert of several traces|$H convert $d/one.htape $d/self.htape $d/self-link.htape --to csv" \
	"replay --json|$H replay $d/self.htape -a glibc --json $d/self.htape"; do
	what=${c%%|*}
	$(echo "${c#*|}") >"$d/out" 2>"$d/err"
	rc=$?
	[ "$rc" = 1 ] && cmp -s "$d/self.htape" "$d/self.orig" &&
		[ "$(wc -l <"$d/err")" = 1 ] &&
		grep -q "is also .*input.*name another" "$d/err" &&
		ok "$what over its own input: exit 1, one line, the input intact" ||
		{ no "$what over its own input (exit $rc)"; sed 's/^/# /' "$d/err" | head -3; }
done
"$MK" -n 200 -c /dev/null "$d/self.csv.htape" "$d/self.txt"
"$H" convert "$d/self.csv.htape" "$d/self.csv" 2>/dev/null
cp "$d/self.csv" "$d/self.csv.orig"
expect 1 "convert csv -> htape over its own input is refused" \
	"$H" convert "$d/self.csv" "$d/self.csv" --to htape
cmp -s "$d/self.csv" "$d/self.csv.orig" && ok "the CSV input is intact" ||
	no "the CSV input is intact"
expect 0 "convert htape -> htape in place (a recompression) still works" \
	"$H" convert --level 19 "$d/self.htape" "$d/self.htape"
"$H" cat "$d/self.htape" | cmp -s - "$d/a.want" &&
	ok "the trace recompressed in place holds the same events" ||
	no "the trace recompressed in place holds the same events"
echo "1..$n"
