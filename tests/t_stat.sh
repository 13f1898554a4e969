#!/bin/sh
# t_stat.sh - `heaptape stat`: every number of --json checked against an
# independent computation (tests/tools/stat_check.py over the events that
# tests/tools/mktrace_stat wrote), a hand-made sequence with known peaks,
# the human table, damaged and empty traces, errors.
set -u
H=$HEAPTAPE
MK=$HT_BUILD/tests/mktrace_stat
CHK=$HT_TOP/tests/tools/stat_check.py
d=$HT_TMP/stat
mkdir -p "$d"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); echo "not ok $n - $1"; }
t() { # what command...
	what=$1; shift
	if "$@" >"$d/out" 2>&1; then ok "$what"; else no "$what"; sed 's/^/# /' "$d/out" | head -20; fi
}
json_ok() { python3 -m json.tool "$1" >/dev/null 2>&1; }

# Random traces: several seeds, thread counts and block sizes.
for args in "-n 20000 -t 4 -s 1" "-n 30000 -t 9 -s 2 -b 777 --windows" \
	    "-n 5000 -t 1 -s 3 -b 1" "-n 40000 -t 3 -s 4 --windows"; do
	# shellcheck disable=SC2086
	"$MK" $args "$d/r.htape" "$d/r.txt" || no "mktrace_stat $args"
	"$H" stat --json "$d/r.htape" >"$d/r.json"
	rc=$?
	[ $rc = 0 ] && json_ok "$d/r.json" && ok "stat --json is valid JSON ($args)" ||
		no "stat --json is valid JSON ($args), exit $rc"
	"$H" cat "$d/r.htape" >"$d/r.cat"
	t "stat --json equals an independent computation ($args)" \
		python3 "$CHK" "$d/r.txt" "$d/r.json" "$d/r.cat"
done

# The parallel merge (evpipe.c) gives exactly ht_reader_next()'s order:
# same JSON with worker threads, without, and through the reader.
"$MK" -n 60000 -t 12 -s 6 -b 300 --windows "$d/m.htape" "$d/m.txt"
"$H" stat --json --jobs 3 "$d/m.htape" >"$d/m3.json"
"$H" stat --json --jobs 0 "$d/m.htape" >"$d/m0.json"
HEAPTAPE_MERGE=reader "$H" stat --json "$d/m.htape" >"$d/mr.json"
cmp -s "$d/m3.json" "$d/mr.json" && cmp -s "$d/m0.json" "$d/mr.json" &&
	ok "stat: same JSON with 3 decoding threads, none, and ht_reader_next" ||
	no "stat: same JSON with 3 decoding threads, none, and ht_reader_next"
python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
for k in (1, 2, 3):
    b[len(b) * k // 4] ^= 0x40
open(sys.argv[2], "wb").write(b)' "$d/m.htape" "$d/m3flip.htape"
"$H" stat --salvage --json --jobs 3 "$d/m3flip.htape" >"$d/f3.json" 2>/dev/null
HEAPTAPE_MERGE=reader "$H" stat --salvage --json "$d/m3flip.htape" >"$d/fr.json" 2>/dev/null
python3 -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["events"] < 60000 and a["problems"], (a["events"], a["problems"])
assert [p["offset"] for p in a["problems"]] == [p["offset"] for p in b["problems"]], (a["problems"], b["problems"])
del a["problems"], b["problems"]
assert a == b' "$d/f3.json" "$d/fr.json" &&
	ok "stat --salvage: parallel and reader merges agree on a trace with 3 damaged blocks" ||
	no "stat --salvage: parallel and reader merges agree"
"$H" stat --json --jobs 2 "$d/m3flip.htape" >/dev/null 2>"$d/err"
rc=$?
[ $rc = 1 ] && grep -q "m3flip.htape'.* at offset [0-9]" "$d/err" &&
	ok "stop mode with threads: exit 1 with the offset" ||
	no "stop mode with threads: exit $rc $(cat "$d/err")"

# The hand-made sequence (mktrace_stat.c case_peak): realloc, calloc,
# failed calls, realloc(p, 0), free(NULL), HeapDestroy, unknown free.
"$MK" --case peak "$d/p.htape" "$d/p.txt"
"$H" stat --json "$d/p.htape" >"$d/p.json"
t "hand-made case: peak 1600 bytes in 4 blocks, 1 unknown free, 2 failed" \
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
want = {"peak_live_bytes": 1600, "peak_live_blocks": 4, "unknown_frees": 1,
        "failed_calls": 2, "live_at_end_bytes": 0, "live_at_end_blocks": 0,
        "events": 16, "threads": 3, "processes": 1, "lost_events": 0,
        "recorded_peak_rss_bytes": None, "reused_addresses": 0,
        "loss_records": 0}
bad = {k: (d.get(k), v) for k, v in want.items() if d.get(k) != v}
assert not bad, bad
assert d["ops"] == {"malloc": 2, "calloc": 1, "realloc": 4, "free": 3,
    "free_sized": 1, "HeapCreate": 1, "HeapAlloc": 3, "HeapDestroy": 1}, d["ops"]
assert d["lifetime_histogram"]["never_freed"] == 0
' "$d/p.json"
t "hand-made case: independent computation agrees" \
	python3 "$CHK" "$d/p.txt" "$d/p.json"
t "metadata that is not UTF-8 or has control bytes: valid JSON, U+FFFD" \
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
v = d["meta"]["test.bytes"]
assert v == "caf\ufffd \x01<&>\t\u00e9\ufffd\"\\", repr(v)
assert d["meta"]["process.exe"] == "/opt/w\ufffdird <&> \"exe\"", d["meta"]["process.exe"]
assert [t["name"] for t in d["per_thread"] if t["tid"] == 1] == ["na\"me\\1"]
' "$d/p.json"
"$H" stat "$d/p.htape" >/dev/null 2>&1 && ok "stat table with odd metadata" ||
	no "stat table with odd metadata"

# Human table.
"$H" stat "$d/r.htape" >"$d/h.txt" 2>&1
rc=$?
for want in "^events " "^peak live " "^unknown frees " "^lost events " \
	    "^events per op" "^allocation sizes" "^lifetimes" "^top sizes" \
	    "^per thread" "^recorded RSS   peak " "HeapDestroy" "worker-1"; do
	if [ $rc = 0 ] && grep -q "$want" "$d/h.txt"; then
		ok "stat table has '$want'"
	else
		no "stat table has '$want' (exit $rc)"
	fi
done

# "peak live X bytes in N blocks, at T": N is what was live at that
# peak, not the most blocks ever live (said apart when it differs).
"$H" stat --json "$d/r.htape" >"$d/r.json" 2>&1
python3 -c '
import json, re, sys
d = json.load(open(sys.argv[1]))
t = open(sys.argv[2]).read()
assert d["blocks_at_peak"] < d["peak_live_blocks"], (d["blocks_at_peak"], d["peak_live_blocks"])
assert re.search(r"^peak live .* in %d blocks, at " % d["blocks_at_peak"], t, re.M), t
assert re.search(r"^max live blocks %d$" % d["peak_live_blocks"], t, re.M), t
' "$d/r.json" "$d/h.txt" >"$d/out" 2>&1 &&
	ok "peak live: the blocks live at the peak; max live blocks apart" ||
	{ no "peak live: blocks at the peak"; tail -3 "$d/out" | sed 's/^/# /'; }

# The same trace given twice is said once: its events would count twice.
for c in stat cat; do
	"$H" $c "$d/r.htape" "$d/r.htape" >/dev/null 2>"$d/err"
	[ "$(grep -c "warning: '.*r.htape' is the same trace as '.*r.htape' (same UUID)" "$d/err")" = 1 ] &&
		ok "$c of the same trace twice: one warning" ||
		no "$c of the same trace twice: '$(cat "$d/err")'"
done

# Empty trace.
"$MK" -n 0 "$d/e.htape" "$d/e.txt"
"$H" stat --json "$d/e.htape" >"$d/e.json" && json_ok "$d/e.json" &&
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["events"] == 0 and d["peak_live_bytes"] == 0 and d["time_span_ns"] == 0 and d["processes"] == (1 if "process.pid" in d["meta"] else 0)' "$d/e.json" &&
	ok "empty trace: valid JSON, zeros, its named process counted" || no "empty trace"

# A trace whose writer died: stat reads its whole blocks and says so.
"$MK" -n 20000 -s 5 -b 500 "$d/c.htape" "$d/c.txt"
size=$(wc -c <"$d/c.htape")
head -c $((size * 2 / 3)) "$d/c.htape" >"$d/cut.htape"
"$H" stat --json "$d/cut.htape" >"$d/cut.json" 2>"$d/cut.err"
rc=$?
readable=$("$H" cat "$d/cut.htape" 2>/dev/null | wc -l)
if [ $rc = 0 ] && json_ok "$d/cut.json" && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["complete"] is False, d["complete"]
assert d["events"] == int(sys.argv[2]) and 0 < d["events"] < 20000, d["events"]
' "$d/cut.json" "$readable"; then
	ok "truncated trace: stat counts the $readable readable events, complete=false"
else
	no "truncated trace (exit $rc)"; sed 's/^/# /' "$d/cut.err"
fi
# A damaged block: stop mode fails with the offset, salvage lists it.
python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0x10
open(sys.argv[2], "wb").write(b)' "$d/c.htape" "$d/flip.htape"
"$H" stat "$d/flip.htape" >/dev/null 2>"$d/flip.err"
rc=$?
[ $rc = 1 ] && grep -q "'.*flip.htape'.*offset [0-9]" "$d/flip.err" &&
	ok "damaged trace: exit 1, one line with file and offset" ||
	{ no "damaged trace: exit $rc"; sed 's/^/# /' "$d/flip.err"; }
"$H" stat --salvage --json "$d/flip.htape" >"$d/flip.json" 2>/dev/null
rc=$?
[ $rc = 0 ] && json_ok "$d/flip.json" && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["problems"]) >= 1 and d["problems"][0]["offset"] > 0, d["problems"]
assert 0 < d["events"] < 20000
' "$d/flip.json" && ok "--salvage: problems listed with offsets, the rest counted" ||
	no "--salvage on a damaged trace (exit $rc)"

# Damage is counted and carried: stat --salvage counts the events of a
# skipped block (its header's count), and convert writes them as loss
# records, so the copy is never cleaner than its input.
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["skipped_events"] + d["events"] == 20000, (d["skipped_events"], d["events"])
assert d["skipped_events"] > 0' "$d/flip.json" &&
	ok "stat --salvage: skipped_events + events = all events" ||
	no "stat --salvage: skipped_events $(grep skipped "$d/flip.json")"
"$H" convert --salvage "$d/flip.htape" "$d/flipc.htape" 2>"$d/err"
"$H" stat --json "$d/flipc.htape" >"$d/flipc.json" 2>&1
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
f = json.load(open(sys.argv[2]))
assert d["lost_events"] == f["lost_events"] + f["skipped_events"], (d["lost_events"], f["lost_events"])
assert d["events"] == f["events"]
assert d["loss_records"] > f["loss_records"] and "trace.source_damage" in d["meta"], d["meta"]' "$d/flipc.json" "$d/flip.json" &&
	grep -q "events lost" "$d/err" &&
	ok "convert --salvage: the skipped events are loss records in the copy" ||
	no "convert --salvage: the copy says no loss: $(cat "$d/err")"
"$H" convert "$d/cut.htape" "$d/cutc.htape" 2>/dev/null
"$H" stat --json "$d/cutc.htape" >"$d/cutc.json" 2>&1
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = json.load(open(sys.argv[2]))
assert d["lost_events"] == c["lost_events"] + c["skipped_events"], (d["lost_events"], c["skipped_events"])
assert c["skipped_events"] > 0 and d["events"] == c["events"]' "$d/cutc.json" "$d/cut.json" &&
	ok "convert of a cut trace: the cut block's events are a loss record" ||
	no "convert of a cut trace: lost $(grep -E 'lost_ev|skipped_ev' "$d/cutc.json" "$d/cut.json")"
# Every command says the damaged block the same way, with its events.
lost=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["skipped_events"])' "$d/flip.json")
"$H" stat --salvage "$d/flip.htape" 2>&1 | grep "^problem at offset" | sed 's/^problem at //' >"$d/say.stat"
"$H" cat --salvage "$d/flip.htape" 2>&1 >/dev/null | sed 's/.*flip.htape.: //' >"$d/say.cat"
"$H" convert --salvage "$d/flip.htape" "$d/say.htape" 2>&1 | sed 's/.*flip.htape.: //; s/, skipped$//' >"$d/say.conv"
"$H" verify "$d/flip.htape" 2>&1 >/dev/null | sed 's/.*flip.htape.: //' >"$d/say.ver"
grep -q "; $lost events lost)$" "$d/say.stat" && cmp -s "$d/say.stat" "$d/say.cat" &&
	cmp -s "$d/say.stat" "$d/say.conv" && cmp -s "$d/say.stat" "$d/say.ver" &&
	ok "stat, cat, convert, verify say a damaged block alike, with its $lost events" ||
	{ no "damage said differently"; cat "$d"/say.* | sed 's/^/# /'; }

# Cut exactly at a block boundary: no damage, only no END block.
end=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["problems"][0]["offset"])' "$d/cut.json")
head -c "$end" "$d/c.htape" >"$d/noend.htape"
"$H" stat "$d/noend.htape" >"$d/noend.txt" 2>&1
grep -q "^problem at offset $end: no END block (the writer did not close it)$" "$d/noend.txt" &&
	! grep -qE "inside a block|damaged parts" "$d/noend.txt" &&
	grep -q "^lost events .*the writer did not close" "$d/noend.txt" &&
	ok "no END block at a block boundary: said so, not 'damaged'" ||
	{ no "no END block at a block boundary"; grep -E "problem|lost" "$d/noend.txt" | sed 's/^/# /'; }
"$H" convert "$d/noend.htape" "$d/noendc.htape" 2>/dev/null
"$H" stat --json "$d/noendc.htape" >"$d/noendc.json" 2>&1
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["loss_records_unknown"] == 1, d["loss_records_unknown"]
assert "did not close" in d["meta"]["trace.source_damage"]' "$d/noendc.json" &&
	ok "convert of an unclosed trace: a loss record of unknown size" ||
	no "convert of an unclosed trace: $(grep -E 'loss_rec' "$d/noendc.json")"

# Errors and usage.
"$H" stat "$d/nonexistent.htape" >/dev/null 2>"$d/err"
rc=$?
[ $rc = 1 ] && grep -q "cannot open '.*nonexistent.htape'" "$d/err" &&
	ok "missing file: exit 1, clear message" || no "missing file: exit $rc"
"$H" stat >/dev/null 2>&1
[ $? = 2 ] && ok "no argument: exit 2" || no "no argument: exit 2"
"$H" stat --bogus "$d/r.htape" >/dev/null 2>&1
[ $? = 2 ] && ok "unknown option: exit 2" || no "unknown option: exit 2"
"$H" stat --help >"$d/help" 2>&1 && grep -q "usage: heaptape stat" "$d/help" &&
	ok "--help: usage on stdout, exit 0" || no "--help"
printf 'not a trace at all\n' >"$d/junk.htape"
"$H" stat "$d/junk.htape" >/dev/null 2>"$d/err"
rc=$?
[ $rc = 1 ] && grep -q "junk.htape" "$d/err" && ok "not a trace: exit 1" ||
	no "not a trace: exit $rc"

# An ETL file goes to etl_stat (convert/etl.c).
etl=$SHARED/data/etl/microsoft_perfview__primitive-types.etl
if [ -f "$etl" ]; then
	"$H" stat --json "$etl" >"$d/etl.json" 2>"$d/etl.err"
	rc=$?
	[ $rc = 0 ] && json_ok "$d/etl.json" && ok "stat --json of an .etl is valid JSON" ||
		{ no "stat --json of an .etl (exit $rc)"; sed 's/^/# /' "$d/etl.err" | head -5; }
else
	ok "stat of an .etl # SKIP no shared ETL data"
fi
echo "1..$n"
