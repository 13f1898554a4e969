#!/bin/sh
# demo.sh - `make demo`: record a real program, look at the trace, replay
# it on every installed allocator, and write CSV and plots into demo/.
set -eu
O=${O:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
ht=$top/$O/heaptape
out=$top/demo
mkdir -p "$out"
rm -f "$out"/python.htape "$out"/python.*.htape
cat >"$out/work.py" <<'PY'
# A workload whose heap grows and shrinks: build, sort and drop data.
import json, random
random.seed(1)
for round in range(6):
    rows = [{"id": i, "name": "row%d" % i, "tags": [str(random.random())] * 3}
            for i in range(1500 * (round % 3 + 1))]
    text = json.dumps(rows)
    back = json.loads(text)
    back.sort(key=lambda r: r["name"])
    del rows, text, back
print("done")
PY
# The interpreter itself, not a wrapper script (pyenv shims exec it).
py=$(python3 -c 'import sys; print(sys.executable)')
# --latency: the calls' own times too, which stat and replay set beside
# the allocators'
echo "== heaptape record --latency -o demo/python.htape -- $py demo/work.py"
PYTHONMALLOC=malloc PYTHONHASHSEED=0 "$ht" record --latency -o "$out/python.htape" -- "$py" "$out/work.py"
echo
echo "== heaptape verify demo/python.htape"
"$ht" verify "$out/python.htape"
echo
echo "== heaptape stat demo/python.htape"
"$ht" stat "$out/python.htape"
echo
echo "== heaptape cat demo/python.htape | head -5"
"$ht" cat "$out/python.htape" | head -5 || true
allocs="-a glibc"
for a in jemalloc mimalloc tcmalloc; do
	case $a in
	jemalloc) so=libjemalloc.so.2 ;;
	mimalloc) so=libmimalloc.so.2 ;;
	tcmalloc) so=libtcmalloc_minimal.so.4 ;;
	esac
	if ls /usr/lib/*/"$so" >/dev/null 2>&1; then allocs="$allocs -a $a"; fi
done
echo
echo "== heaptape replay demo/python.htape $allocs --json demo/replay.json"
"$ht" replay "$out/python.htape" $allocs --json "$out/replay.json"
echo
echo "== heaptape convert demo/python.htape demo/python.csv (+ --interval 10ms)"
"$ht" convert "$out/python.htape" "$out/python.csv"
"$ht" convert --interval 10ms "$out/python.htape" "$out/python-10ms.csv"
head -3 "$out/python.csv"
echo
echo "== heaptape plot"
"$ht" plot "$out/python.htape" -o "$out/python.svg"
"$ht" plot "$out/replay.json" -o "$out/replay.svg"
echo
# A program that runs others: a trace each, replayed together
rm -f "$out"/gcc.htape "$out"/gcc.htape.*
echo "== heaptape record -o demo/gcc.htape -- gcc -O2 -c format/block.c (driver, cc1, as)"
"$ht" record -o "$out/gcc.htape" -- gcc -O2 -c "$top/format/block.c" \
	-I"$top/format" -o "$out/block.o"
echo
echo "== heaptape replay demo/gcc.htape demo/gcc.htape.* $allocs"
"$ht" replay "$out/gcc.htape" "$out"/gcc.htape.* $allocs
echo
echo "== heaptape convert --anonymize demo/python.htape demo/python-shared.htape"
rm -f "$out/python-shared.htape"
"$ht" convert --anonymize "$out/python.htape" "$out/python-shared.htape"
"$ht" cat "$out/python-shared.htape" | head -3 || true
echo
echo "wrote demo/python.htape, demo/python.csv, demo/python-10ms.csv,"
echo "demo/replay.json, demo/python.svg, demo/replay.svg, demo/gcc.htape*"
echo "and demo/python-shared.htape"
