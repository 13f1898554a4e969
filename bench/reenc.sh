#!/bin/sh
# reenc.sh - the EVENTS encoder's CPU per event on recorded traces (what the
# recorder's encoder thread spends inside the traced program): records
# ../shared/bench/mallocstorm.c (1 thread) and pyjson.py (PYTHONMALLOC=
# malloc), then re-encodes their blocks with bench/bench_reenc.c (best
# thread CPU time of 5, with and without zstd) and prints ns/event and
# the blocks' bytes/event.  STORM_OPS=N operations (default 2000000);
# PY=python (default /usr/bin/python3: a shim would be traced instead).
# Environment (bench/run.sh): HEAPTAPE, HT_BUILD, SHARED, HT_TMP.
set -u
O=${O:-build}
HT_BUILD=${HT_BUILD:-$(cd "$O" && pwd)}
HEAPTAPE=${HEAPTAPE:-$HT_BUILD/heaptape}
SHARED=${SHARED:-$(cd .. && pwd)/shared}
HT_TMP=${HT_TMP:-$(mktemp -d /tmp/heaptape-bench.XXXXXX)}
R=$HT_BUILD/bench/bench_reenc
d=$HT_TMP/reenc
mkdir -p "$d"
PY=${PY:-/usr/bin/python3}
[ -x "$PY" ] || PY=$(command -v python3)

${CC:-cc} -O2 -pthread -o "$d/storm" "$SHARED/bench/mallocstorm.c" || {
	echo "cannot build mallocstorm"; exit 1; }
"$HEAPTAPE" record -o "$d/storm.htape" -- "$d/storm" 1 \
	"${STORM_OPS:-2000000}" >/dev/null 2>&1 || {
	echo "recording storm failed"; exit 1; }
PYTHONMALLOC=malloc "$HEAPTAPE" record -o "$d/py.htape" -- \
	"$PY" "$SHARED/bench/work/pyjson.py" >/dev/null 2>&1 || {
	echo "recording python failed"; exit 1; }
for t in storm py; do
	for u in "" -u; do
		"$R" -r 5 $u "$d/$t.htape" >"$d/out" || {
			echo "bench_reenc $t failed"; continue; }
		sed -n 's/^encode [0-9.]* M events\/s, \([0-9.]*\) ns\/event (\(.*\), one core)/\1 ns\/event (\2)/p' \
			"$d/out" | tr '\n' ' ' | sed "s/^/$t: /"
		sed -n 's/^blocks \(.*\)/\1/p' "$d/out"
	done
done
rm -f "$d/storm.htape" "$d/py.htape"

# Recompression (`convert in.htape out.htape`) of a trace of 200 threads
# that ran at once (tests/progs/threads, 20000 events each): wall time
# and peak RSS, which a thread at a time keeps at one block.
P=$HT_BUILD/tests/progs/threads
if [ -x "$P" ]; then
	"$HEAPTAPE" record -o "$d/mt.htape" -- "$P" 200 20000 200 \
		>/dev/null 2>&1 || { echo "recording threads failed"; exit 1; }
	t0=$(date +%s.%N)
	kb=$("$HT_BUILD/bench/maxrss" "$HEAPTAPE" convert --level 3 \
		"$d/mt.htape" "$d/mt2.htape" 2>/dev/null | tail -1)
	t1=$(date +%s.%N)
	ev=$("$HEAPTAPE" stat --json "$d/mt.htape" | tr -d '",' |
		awk '$1 == "events:" { print $2 }')
	echo "recompress 200 threads: $ev events, $(awk -v a="$t0" -v b="$t1" \
		'BEGIN { printf "%.2f", b - a }') s, peak RSS ${kb} kB" \
		"(input $(wc -c <"$d/mt.htape") B, output $(wc -c <"$d/mt2.htape") B)"
	rm -f "$d/mt.htape" "$d/mt2.htape"
fi
