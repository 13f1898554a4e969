#!/bin/sh
# replay.sh - `make bench` part for `heaptape replay`: record a malloc
# storm (tests/progs/replay_storm), replay it on every installed allocator
# and a trivial bump allocator (tests/replay/bump.c), print the table and
# ratios against glibc, then the harness's own cost per event: one thread,
# no page touching, against the bump allocator in ring mode (no page
# faults) and a null allocator (the harness alone), with every call timed
# and with one call in 64 timed.
# Environment: HEAPTAPE, HT_BUILD, HT_TOP, HT_TMP (from bench/run.sh).
set -u
T=$HT_TMP/replay-bench
mkdir -p "$T"
STORM=$HT_BUILD/tests/progs/replay_storm
BUMP=$T/libbump.so
${CC:-cc} -shared -fPIC -O2 -o "$BUMP" "$HT_TOP/tests/replay/bump.c" || exit 1

if [ -x "$STORM" ] && [ -f "$HT_BUILD/libheaptape-record.so" ]; then
	rm -f "$T/storm.htape" "$T/storm1.htape"
	echo "trace: heaptape record -- replay_storm 2 300000 32768"
	"$HEAPTAPE" record -q -o "$T/storm.htape" -- "$STORM" 2 300000 32768 \
		>/dev/null || exit 1
	echo "trace: heaptape record -- replay_storm 1 1000000 32768"
	"$HEAPTAPE" record -q -o "$T/storm1.htape" -- "$STORM" 1 1000000 32768 \
		>/dev/null || exit 1
else
	echo "trace: replay_gen mix (no recorder or storm program built)"
	"$HT_BUILD/tests/replay_gen" mix "$T/storm.htape" 2 600000 1
	"$HT_BUILD/tests/replay_gen" mix "$T/storm1.htape" 1 1000000 1
fi

nice "$HEAPTAPE" replay "$T/storm.htape" -a all -a "$BUMP" --repeat 3 \
	--json "$T/storm.json" || exit 1
python3 - "$T/storm.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
al = [a for a in d["allocators"] if a["status"] == "ok"]
g = next((a for a in al if a["name"] == "glibc"), None)
if g:
    print("\nratios against glibc (same run, medians of 3):")
    print("%-14s %8s %8s %10s %10s" % ("allocator", "wall", "cpu", "peak RSS", "free p99"))
    for a in al:
        cpu = (a["user_s"] + a["sys_s"]) / max(g["user_s"] + g["sys_s"], 1e-9)
        fp = a["ops"].get("free", {}).get("p99_ns", 0)
        gp = g["ops"].get("free", {}).get("p99_ns", 0) or 1
        print("%-14s %8.2f %8.2f %10.2f %10.2f" % (a["name"][:14],
              a["wall_s"] / g["wall_s"], cpu,
              a["peak_rss_bytes"] / max(g["peak_rss_bytes"], 1), fp / gp))
EOF

echo
echo "harness cost: 1 thread, --no-touch, best of 5 runs; cpu = user+sys of the"
echo "replay; null = every malloc returns one static buffer (the harness alone),"
echo "bump = tests/replay/bump.c on a pre-faulted ring (a trivial allocator)"
${CC:-cc} -shared -fPIC -O2 -o "$T/libnull.so" "$HT_TOP/tests/replay/null.c" || exit 1
for so in null bump; do
	lib=$T/libnull.so
	[ $so = bump ] && lib=$BUMP
	for s in 1 64; do
		i=0
		while [ $i -lt 5 ]; do
			BUMP_RING_MB=64 "$HEAPTAPE" replay "$T/storm1.htape" -a "$lib" \
				--threads=1 --no-touch --sample $s \
				--json "$T/h$so$s.$i.json" >/dev/null || exit 1
			i=$((i + 1))
		done
		python3 - "$so" "$s" "$T"/h$so$s.*.json <<'EOF'
import json, sys
best = None
for f in sys.argv[3:]:
    d = json.load(open(f))
    a = d["allocators"][0]
    e = d["events"]
    r = (a["wall_s"] * 1e9 / e, (a["user_s"] + a["sys_s"]) * 1e9 / e)
    best = r if best is None or r[0] < best[0] else best
print("  %-4s --sample %-3s %6.1f ns/event wall, %6.1f ns/event cpu "
      "(%d events; target <= 10)" % (sys.argv[1], sys.argv[2], best[0],
                                      best[1], e))
EOF
	done
done
echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg) (a shared 2-core box: wall"
echo "  includes other jobs; compare with an idle run before reading much into it)"
