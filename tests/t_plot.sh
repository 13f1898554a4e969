#!/bin/sh
# t_plot.sh - `heaptape plot`: well-formed, self-contained SVG with axis
# labels, units and a legend, for a trace (live bytes/blocks, recorded
# RSS) and for a replay report (RSS per allocator); the drawn peak is the
# trace's peak; errors; a recorded python3 run that grows and shrinks;
# the call time panel of a trace of record --latency.
set -u
H=$HEAPTAPE
MK=$HT_BUILD/tests/mktrace_stat
d=$HT_TMP/plot
mkdir -p "$d"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); echo "not ok $n - $1"; }
expect() {
	want=$1 what=$2; shift 2
	"$@" >"$d/out" 2>"$d/err"
	rc=$?
	if [ "$rc" = "$want" ]; then ok "$what"; else
		no "$what (exit $rc, wanted $want)"; sed 's/^/# /' "$d/err" | head -5
	fi
}
# svgcheck FILE TEXT...: parses as XML, no script, no external reference,
# every TEXT appears in a <text> element.
svgcheck() {
	python3 - "$@" <<'EOF'
import sys, xml.etree.ElementTree as ET
path, want = sys.argv[1], sys.argv[2:]
root = ET.parse(path).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
texts = " | ".join("".join(t.itertext()) for t in root.iter(ns + "text"))
for w in want:
    assert w in texts, "missing text %r in %s" % (w, texts[:300])
raw = open(path).read()
assert "<script" not in raw and "href" not in raw and "@import" not in raw
assert raw.count("http") == 1, "only the xmlns may name a URL"
lines = list(root.iter(ns + "polyline"))
assert lines, "no polyline"
for pl in lines:
    pts = pl.get("points").split()
    assert 2 <= len(pts) <= 4 * 2000 + 8, len(pts)
EOF
}

"$MK" -n 30000 -t 3 -s 21 --windows "$d/a.htape" "$d/a.txt"
expect 0 "plot of a trace exits 0" "$H" plot "$d/a.htape" -o "$d/a.svg"
svgcheck "$d/a.svg" "live bytes" "live blocks" "recorded RSS" \
	"time since trace start (ms)" "MiB" "heap of stat-test" >"$d/chk" 2>&1 &&
	ok "trace SVG: valid XML, self-contained, axis labels, units, legend" ||
	{ no "trace SVG"; sed 's/^/# /' "$d/chk" | tail -3; }

# The top of the live-bytes line is the peak stat reports.
"$H" stat --json "$d/a.htape" >"$d/a.json"
python3 - "$d/a.svg" "$d/a.json" <<'EOF' >"$d/chk" 2>&1 &&
import json, re, sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
peak = json.load(open(sys.argv[2]))["peak_live_bytes"]
# Panel 1: the first grid labels give the y scale (value at a pixel row).
ticks = []
for t in root.iter(ns + "text"):
    m = re.fullmatch(r"([0-9.]+) MiB", "".join(t.itertext()))
    if m:
        ticks.append((float(m.group(1)) * 2**20, float(t.get("y")) - 4))
ticks.sort()
(v0, y0), (v1, y1) = ticks[0], ticks[-1]
line = next(root.iter(ns + "polyline"))
ys = [float(p.split(",")[1]) for p in line.get("points").split()]
top = min(ys)
drawn = v0 + (y0 - top) * (v1 - v0) / (y0 - y1)
assert abs(drawn - peak) <= 0.01 * peak, (drawn, peak)
print("drawn peak %.0f, stat %d" % (drawn, peak))
EOF
	ok "the drawn peak is stat's peak_live_bytes (within 1%)" ||
	{ no "drawn peak"; sed 's/^/# /' "$d/chk" | tail -3; }

# A window: the x axis covers only it, the line starts at the value the
# window starts with.
span_ms=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["time_span_ns"] // 10**6)' "$d/a.json")
from=$((span_ms / 3)) to=$((span_ms * 2 / 3))
expect 0 "plot --from --to exits 0" "$H" plot --from ${from}ms --to ${to}ms "$d/a.htape" -o "$d/w.svg"
python3 - "$d/w.svg" "$from" "$to" <<'EOF' >"$d/chk" 2>&1 &&
import re, sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
lo, hi = float(sys.argv[2]), float(sys.argv[3])
texts = ["".join(t.itertext()) for t in root.iter(ns + "text")]
assert any("in this window" in t for t in texts), texts[:3]
assert "time since trace start (ms)" in texts
# x tick labels sit under the last panel: numbers inside the window
xt = [float(t) for t in texts if re.fullmatch(r"[0-9.]+", t)]
xt = [v for v in xt if v >= lo - 1e-6]
assert xt and all(lo - 1e-6 <= v <= hi + 1e-6 for v in xt), xt
line = next(root.iter(ns + "polyline"))
y0 = float(line.get("points").split()[0].split(",")[1])
assert y0 < 300, "the line starts above 0 in the middle of the trace"
EOF
	ok "window: ticks inside it, the line starts at its value" ||
	{ no "window"; sed 's/^/# /' "$d/chk" | tail -3; }
expect 2 "--to before --from: exit 2" "$H" plot --from 2s --to 1s "$d/a.htape" -o "$d/x.svg"
expect 1 "a window after the end: exit 1" "$H" plot --from 1h "$d/a.htape" -o "$d/x.svg"

# A trace without RSS samples: no RSS line; an empty trace still draws.
"$MK" --case peak "$d/p.htape" "$d/p.txt"
expect 0 "plot of a small trace" "$H" plot "$d/p.htape" -o "$d/p.svg"
svgcheck "$d/p.svg" "live bytes" "live blocks" "heap of w?ird <&> \"exe\"" >/dev/null 2>&1 &&
	! grep -q "recorded RSS" "$d/p.svg" && ok "no RSS samples: no RSS line" ||
	no "no RSS samples: no RSS line"
"$MK" -n 0 "$d/e.htape" "$d/e.txt"
expect 0 "plot of an empty trace" "$H" plot "$d/e.htape" -o "$d/e.svg"
python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$d/e.svg" &&
	grep -q "no data" "$d/e.svg" && ok "empty trace: valid SVG saying no data" ||
	no "empty trace: valid SVG saying no data"

# A trace without a clock (Android record_allocs): x is the event number.
sysui=$SHARED/data/android/systemui.txt.zst
if [ -f "$sysui" ] && "$H" convert "$sysui" "$d/sysui.htape" >/dev/null 2>&1; then
	expect 0 "plot of a trace without a clock" "$H" plot "$d/sysui.htape" -o "$d/sysui.svg"
	svgcheck "$d/sysui.svg" "event number (the trace has no clock)" "live bytes" \
		"MiB" "k" >"$d/chk" 2>&1 && ! grep -q "(ms)\|(s)<" "$d/sysui.svg" &&
		ok "no clock: the x axis counts events, no time unit" ||
		{ no "no clock: x axis"; sed 's/^/# /' "$d/chk" | tail -3; }
else
	ok "plot of a trace without a clock # SKIP android import not available"
fi

# A replay report: allocators[].rss_series [[seconds, bytes], ...].
python3 - "$d/rep.json" <<'EOF'
import json, math, sys
al = []
for k, name in enumerate(("glibc", "jemalloc", "my & <alloc>")):
    rs = [[i * 0.004, int((30 + 20 * math.sin(i / 40.0) + 5 * k) * 2**20)]
          for i in range(3000)]
    al.append({"name": name, "wall_s": 12.0, "rss_series": rs})
al[0]["ideal_series"] = [[i * 0.004, 2**20 * (20 + 20 * math.sin(i / 40.0))]
                         for i in range(3000)]
al.append({"name": "broken", "status": "failed", "error": "x", "rss_series": []})
json.dump({"trace": "/x/python3.htape", "ideal_peak_bytes": 40 * 2**20,
           "allocators": al}, open(sys.argv[1], "w"))
EOF
expect 0 "plot of a replay report exits 0" "$H" plot "$d/rep.json" -o "$d/rep.svg"
svgcheck "$d/rep.svg" "glibc RSS" "jemalloc RSS" "my & <alloc> RSS" \
	"glibc live requested bytes" "resident set size" "broken RSS (failed)" \
	"ideal peak (peak live requested bytes)" \
	"time since replay start (s)" "MiB" "replay of python3.htape" >"$d/chk" 2>&1 &&
	ok "replay SVG: one line per allocator, legend, labels, escaped names" ||
	{ no "replay SVG"; sed 's/^/# /' "$d/chk" | tail -3; }
# Through a pipe, a trace or a report draws the same SVG as from a file.
cat "$d/a.htape" | "$H" plot - -o "$d/pipe.svg" 2>"$d/err" &&
	sed 's/>-: /X/' "$d/pipe.svg" >"$d/pipe1.svg" && sed 's/>a\.htape: /X/' "$d/a.svg" >"$d/a1.svg" &&
	cmp -s "$d/pipe1.svg" "$d/a1.svg" &&
	ok "plot - < trace: the same SVG as from the file" ||
	no "plot - < trace: $(cat "$d/err")"
cat "$d/rep.json" | "$H" plot /dev/stdin -o "$d/pipe2.svg" 2>"$d/err" &&
	cmp -s "$d/pipe2.svg" "$d/rep.svg" &&
	ok "plot of a report through a pipe: the same SVG" ||
	no "plot of a report through a pipe: $(cat "$d/err")"
"$H" verify - <"$d/a.htape" >"$d/out" 2>&1 && grep -q "^(stdin): ok, " "$d/out" &&
	ok "verify - reads standard input" || no "verify -: $(cat "$d/out")"
if [ -w /dev/full ]; then
	expect 1 "plot -o /dev/full exits 1" "$H" plot "$d/a.htape" -o /dev/full
	grep -q "cannot write '/dev/full': No space left on device" "$d/err" &&
		ok "plot -o /dev/full: the reason is said" || no "plot -o /dev/full: $(cat "$d/err")"
else
	ok "plot -o /dev/full # SKIP no /dev/full"
fi
"$H" plot "$d/a.htape" "$d/a.htape" -o "$d/twice.svg" 2>"$d/err"
[ "$(grep -c "is the same trace as" "$d/err")" = 1 ] &&
	ok "plot of the same trace twice: one warning" || no "plot twice: '$(cat "$d/err")'"
printf '{"allocators": [{"name": "x", "rss_series": [[0, 1], [1, "a"]]}]}' >"$d/bad1.json"
expect 1 "replay report with a malformed series: exit 1" "$H" plot "$d/bad1.json" -o "$d/b.svg"
grep -q "bad1.json'.*rss_series\|bad1.json'.*series" "$d/err" &&
	ok "malformed series: the message names the file and the series" ||
	no "malformed series message: $(cat "$d/err")"
printf '{"allocators": [\n{"name": "x",,}]}' >"$d/bad2.json"
expect 1 "broken JSON: exit 1" "$H" plot "$d/bad2.json" -o "$d/b.svg"
grep -q "bad2.json':2:" "$d/err" && ok "broken JSON: file:line in the message" ||
	no "broken JSON: file:line: $(cat "$d/err")"
printf '{"something": 1}' >"$d/bad3.json"
expect 1 "JSON that is not a replay report: exit 1" "$H" plot "$d/bad3.json" -o "$d/b.svg"
[ ! -e "$d/b.svg" ] && ok "failed plots leave no output" || no "failed plots leave no output"

# Several traces (a process and its children): the first line is their
# sum, then one line per trace, largest peak first; each is drawn with
# its trace's own peak, and the sum's peak lies between the largest one
# and the sum of all.
"$MK" -n 20000 -t 2 -s 33 "$d/b.htape" "$d/b.txt"
expect 0 "plot of two traces exits 0" "$H" plot "$d/a.htape" "$d/b.htape" -o "$d/ab.svg"
"$H" stat --json "$d/b.htape" >"$d/b.json"
svgcheck "$d/ab.svg" "all processes" "2 traces" "and 1 more process" >"$d/chk" 2>&1 &&
python3 - "$d/ab.svg" "$d/a.json" "$d/b.json" <<'EOF' >>"$d/chk" 2>&1 &&
import json, os, sys
sys.path.insert(0, os.path.join(os.environ["HT_TOP"], "tests", "tools"))
import svgaxis
root, val, _ = svgaxis.load(sys.argv[1])
peaks = sorted((json.load(open(f))["peak_live_bytes"] for f in sys.argv[2:]),
               reverse=True)
def top(pl):
    return val(min(svgaxis.ys(pl)))
lines = svgaxis.lines(root)
tot, first, second = top(lines[0]), top(lines[1]), top(lines[2])
assert abs(first - peaks[0]) <= 0.01 * peaks[0], (first, peaks)
assert abs(second - peaks[1]) <= 0.01 * peaks[0], (second, peaks)
assert peaks[0] * 0.99 <= tot <= sum(peaks) * 1.01, (tot, peaks)
print("sum %.0f, lines %.0f %.0f, peaks %s" % (tot, first, second, peaks))
EOF
	ok "two traces: their sum and a line each, drawn at each trace's peak" ||
	{ no "two traces"; sed 's/^/# /' "$d/chk" | tail -3; }
expect 2 "plot of a trace with a replay report: exit 2" "$H" plot "$d/a.htape" "$d/a.json" -o "$d/x.svg"

# --salvage draws what is whole and says what it skipped; without it a
# damaged trace is an error with its offset
python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) * 2 // 5] ^= 0x20
open(sys.argv[2], "wb").write(b)' "$d/a.htape" "$d/aflip.htape"
expect 0 "plot --salvage of a damaged trace exits 0" "$H" plot --salvage "$d/aflip.htape" -o "$d/af.svg"
grep -q "warning: '$d/aflip.htape': 1 damaged part skipped (first at offset [0-9]*" "$d/err" &&
	ok "plot --salvage says what it skipped, with the offset" ||
	no "plot --salvage: '$(cat "$d/err")'"
# A cut or unclosed trace is drawn as far as it goes, and said.
size=$(wc -c <"$d/a.htape")
head -c $((size * 2 / 3)) "$d/a.htape" >"$d/acut.htape"
expect 0 "plot of a cut trace exits 0" "$H" plot "$d/acut.htape" -o "$d/acut.svg"
grep -q "warning: '$d/acut.htape': offset [0-9]*: " "$d/err" &&
	ok "plot of a cut trace warns, with the offset, as cat does" ||
	no "plot of a cut trace: no warning '$(cat "$d/err")'"
expect 1 "plot of a damaged trace without --salvage: exit 1" "$H" plot "$d/aflip.htape" -o "$d/af2.svg"

# Errors and usage.
expect 2 "plot without -o: exit 2" "$H" plot "$d/a.htape"
expect 1 "plot of a missing file: exit 1" "$H" plot "$d/none.htape" -o "$d/n.svg"
grep -q "cannot open '.*none.htape'" "$d/err" && ok "missing file: clear message" ||
	no "missing file: clear message"
printf 'hello\n' >"$d/junk.txt"
expect 1 "plot of something else: exit 1" "$H" plot "$d/junk.txt" -o "$d/n.svg"

# PNG rendering, when a renderer is installed (a check that real SVG
# software accepts the file, not only the XML parser).
if command -v rsvg-convert >/dev/null 2>&1; then
	rsvg-convert "$d/a.svg" -o "$d/a.png" 2>"$d/err" && [ -s "$d/a.png" ] &&
		ok "rsvg-convert renders the trace SVG" || no "rsvg-convert renders the trace SVG"
else
	ok "rsvg-convert renders the SVG # SKIP rsvg-convert not installed"
fi

# A real program: python3 builds up lists, then drops them.
if [ -f "$HT_PRELOAD" ] && command -v python3 >/dev/null 2>&1; then
	cat >"$d/grow.py" <<'EOF'
data = []
for i in range(10):
    data.append([str(j) * 10 for j in range(20000)])
for i in range(10):
    data.pop()
EOF
	rm -f "$d"/py.htape*
	PYTHONMALLOC=malloc "$H" record -o "$d/py.htape" -- python3 "$d/grow.py" \
		>"$d/rec.out" 2>&1
	rc=$?
	tr=$(ls -S "$d"/py.htape* 2>/dev/null | head -n 1)
	if [ $rc = 0 ] && [ -n "$tr" ]; then
		"$H" stat --json "$tr" >"$d/py.json" 2>/dev/null
		expect 0 "plot of a recorded python3 run" "$H" plot "$tr" -o "$d/py.svg"
		python3 - "$d/py.json" "$d/py.svg" <<'EOF' >"$d/chk" 2>&1 &&
import json, sys, xml.etree.ElementTree as ET
s = json.load(open(sys.argv[1]))
assert s["peak_live_bytes"] > 4 * 2**20, s["peak_live_bytes"]
assert s["live_at_end_bytes"] < s["peak_live_bytes"] / 2
ns = "{http://www.w3.org/2000/svg}"
line = next(ET.parse(sys.argv[2]).getroot().iter(ns + "polyline"))
ys = [float(p.split(",")[1]) for p in line.get("points").split()]
top = ys.index(min(ys))
# grows (the top is well after the start), then shrinks (ends lower)
assert ys[0] - ys[top] > 100 and ys[-1] - ys[top] > 100, (ys[0], ys[top], ys[-1])
EOF
			ok "python3 run: the heap line grows, then shrinks" ||
			{ no "python3 run: grows, then shrinks"; sed 's/^/# /' "$d/chk" | tail -3; }
		# The replay engine's own JSON report of that trace.
		if "$H" replay -a glibc --json "$d/rr.json" "$tr" >/dev/null 2>&1; then
			expect 0 "plot of a real replay report" "$H" plot "$d/rr.json" -o "$d/rr.svg"
			svgcheck "$d/rr.svg" "glibc RSS" "resident set size" >"$d/chk" 2>&1 &&
				ok "real replay report: RSS line and labels" ||
				{ no "real replay report"; sed 's/^/# /' "$d/chk" | tail -3; }
		else
			ok "plot of a real replay report # SKIP heaptape replay failed"
		fi
	else
		ok "plot of a recorded python3 run # SKIP heaptape record failed (exit $rc)"
	fi
else
	ok "plot of a recorded python3 run # SKIP no recorder library"
fi
# A trace of record --latency: a third panel, the call times per column.
if [ -f "$HT_PRELOAD" ] && [ -x "$HT_BUILD/tests/progs/prodcons" ]; then
	rm -f "$d"/lat.htape*
	"$H" record -q --latency -o "$d/lat.htape" -- \
		"$HT_BUILD/tests/progs/prodcons" 2 20000 >/dev/null 2>&1
	expect 0 "plot of a trace of record --latency" "$H" plot "$d/lat.htape" -o "$d/lat.svg"
	svgcheck "$d/lat.svg" "live bytes" "live blocks" "call time" "1 us" \
		"allocating calls, p50" "allocating calls, p99" \
		"freeing calls, p99" >"$d/chk" 2>&1 &&
		! grep -q "call time" "$d/a.svg" &&
		ok "record --latency: a call time panel (p50, p99), none without" ||
		{ no "record --latency: a call time panel"; sed 's/^/# /' "$d/chk" | tail -3; }
else
	ok "plot of a trace of record --latency # SKIP no recorder library"
fi
# A heap that peaks at its start, just under a tick of the axis: its line
# runs through the top-left corner, so the legend goes to another one
# and hides no part of any line.
python3 - "$d/early.csv" <<'EOF'
import sys
rows = ["time_ns,pid,tid,op,heap,address,size,old_address,old_size,"
        "alignment,nmemb,result",
        "0,7,7,malloc,,0x10000000,100663296,,,,,ok"]
t, big = 1000000, True
for i in range(2000):
    a = 0x20000000 + i * 64
    rows.append("%d,7,7,malloc,,%#x,48,,,,,ok" % (t, a))
    rows.append("%d,7,7,free,,%#x,,,,,,ok" % (t + 100000, a))
    t += 500000
    if big and t > 300000000:
        rows.append("%d,7,7,free,,0x10000000,,,,,,ok" % t)
        big = False
open(sys.argv[1], "w").write("\n".join(rows) + "\n")
EOF
rm -f "$d/early.htape"
"$H" convert "$d/early.csv" "$d/early.htape" 2>"$d/err" &&
	"$H" plot "$d/early.htape" -o "$d/early.svg" 2>>"$d/err" &&
python3 - "$d/early.svg" <<'EOF' >"$d/chk" 2>&1 &&
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
def meets(a, b, r):
    # Liang-Barsky: does the segment a-b enter the box r?
    (ax, ay), (bx, by) = a, b
    t0, t1 = 0.0, 1.0
    for p, q in ((ax - bx, ax - r[0]), (bx - ax, r[2] - ax),
                 (ay - by, ay - r[1]), (by - ay, r[3] - ay)):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return False
    return True
panels = 0
for g in ET.parse(sys.argv[1]).getroot().iter(ns + "g"):
    legend = [r for r in g.iter(ns + "rect") if r.get("fill-opacity")]
    assert len(legend) == 1, "one legend per panel"
    x, y = float(legend[0].get("x")), float(legend[0].get("y"))
    box = (x, y, x + float(legend[0].get("width")),
           y + float(legend[0].get("height")))
    for pl in g.iter(ns + "polyline"):
        pts = [tuple(map(float, p.split(",")))
               for p in pl.get("points").split()]
        for a, b in zip(pts, pts[1:]):
            assert not meets(a, b, box), "legend %s hides %s-%s" % (box, a, b)
    panels += 1
assert panels == 2, panels
# the top-left corner was taken by the line: the legend is elsewhere
first = next(ET.parse(sys.argv[1]).getroot().iter(ns + "g"))
assert float(next(r for r in first.iter(ns + "rect")
                  if r.get("fill-opacity")).get("x")) > 200
EOF
	ok "plot: the legend goes to a corner no line crosses" ||
	{ no "plot: legend placement"; sed 's/^/# /' "$d/err" "$d/chk" | tail -3; }
echo "1..$n"
