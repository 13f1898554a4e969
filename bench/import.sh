#!/bin/sh
# import.sh - speed and size of the text importers on one core:
# systemui (the real Android trace) from plain text and from .zst, a
# generated 10 M line record_allocs text, and an mtrace log of the same
# events.  Lines/s are from CPU time (user + sys: the machine is shared)
# with the wall time beside it; "zstd -dc | wc -l" over the same input is
# the reference reader, and sizes are set against zstd -19 of the text.
# IMPORT_LINES=N changes the size of the generated text.  Times are the
# best of 5 runs for systemui, single runs for the rest.
set -u
T=$HT_TMP/import
mkdir -p "$T"
SUI=$SHARED/data/android/systemui.txt.zst
N=${IMPORT_LINES:-10000000}
one=""
command -v taskset >/dev/null && one="taskset -c 0"

# run LABEL LINES CMD...: CPU s, wall s and lines/s of CMD, the run with
# the least CPU time of $REPS.
run() {
	label=$1 lines=$2
	shift 2
	: >"$T/times"
	i=0
	while [ $i -lt "$REPS" ]; do
		/usr/bin/time -f '%U %S %e' -o "$T/time" $one "$@" \
			>/dev/null 2>"$T/err" ||
			{ echo "$label: failed: $(head -c 300 "$T/err")"
			  return; }
		cat "$T/time" >>"$T/times"
		i=$((i + 1))
	done
	awk -v l="$label" -v n="$lines" '
		{cpu = $1 + $2; if (NR == 1 || cpu < best) {best = cpu; w = $3}}
		END {printf "%-34s %9d lines  cpu %6.2f s  wall %6.2f s", l, n,
			    best, w
		     printf "  %6.2f M lines/s\n",
			    (best > 0 ? n / best / 1e6 : 0)}' "$T/times"
}

REPS=5
zstd -dc "$SUI" >"$T/sui.txt"
L=$(wc -l <"$T/sui.txt")
echo "systemui ($L lines, $(wc -c <"$T/sui.txt") bytes of text)"
run "reference: zstd -dc | wc -l" "$L" sh -c "zstd -dc '$SUI' | wc -l"
run "convert systemui.txt (plain)" "$L" \
	"$HEAPTAPE" convert --from android "$T/sui.txt" "$T/a.htape"
run "convert systemui.txt.zst" "$L" "$HEAPTAPE" convert "$SUI" "$T/b.htape"
REPS=1
run "convert systemui.txt.zst --level 19" "$L" \
	"$HEAPTAPE" convert --level 19 "$SUI" "$T/c.htape"
z19=$(wc -c <"$SUI")
for f in a c; do
	s=$(wc -c <"$T/$f.htape")
	awk -v f="$f" -v s="$s" -v z="$z19" 'BEGIN {
		printf "  size %s: %d B = %.3f x zstd -19 of the text (%d B)\n",
		       (f == "a" ? "default level" : "--level 19"), s, s / z, z}'
done

# A generated record_allocs text: 16 threads, malloc/calloc/memalign/
# realloc/free with a live set per thread, 64-bit pointers.
echo
echo "generated android text ($N lines)"
awk -v n="$N" '
function addr(t) { return sprintf("0x%x%08x", 32512 + t, int(rand() * 2^27) * 16) }
BEGIN {
	srand(7)
	for (i = 0; i < n; i++) {
		t = int(rand() * 16); k = live[t]; r = rand(); tid = 1000 + t
		if (k > 0 && (r < 0.45 || k > 5000)) {
			j = int(rand() * k); a = slot[t, j]
			slot[t, j] = slot[t, k - 1]; live[t] = k - 1
			if (r < 0.05) {
				b = addr(t)
				printf "%d: realloc %s %s %d\n", tid, b, a,
				       int(rand() * 4096)
				slot[t, live[t]++] = b
			} else
				printf "%d: free %s\n", tid, a
			continue
		}
		a = addr(t)
		if (r < 0.9)
			printf "%d: malloc %s %d\n", tid, a, int(2^(rand() * 12))
		else if (r < 0.97)
			printf "%d: calloc %s %d %d\n", tid, a,
			       1 + int(rand() * 8), 8 * int(1 + rand() * 16)
		else
			printf "%d: memalign %s 64 %d\n", tid, a,
			       int(rand() * 8192)
		slot[t, live[t]++] = a
	}
}' >"$T/gen.txt"
run "convert generated (plain)" "$N" \
	"$HEAPTAPE" convert --from android "$T/gen.txt" "$T/g.htape"
zstd -q -3 -f "$T/gen.txt" -o "$T/gen.txt.zst"
run "convert generated (.zst)" "$N" \
	"$HEAPTAPE" convert "$T/gen.txt.zst" "$T/gz.htape"
echo "  text $(wc -c <"$T/gen.txt") B, .zst -3" \
	"$(wc -c <"$T/gen.txt.zst") B, htape $(wc -c <"$T/g.htape") B"

# The same events as an mtrace log (one thread, caller prefixes).
awk -v c='@ ./prog:(f+1f)[0x1150]' '
	$2 == "free" { printf "%s - %s\n", c, $3; next }
	$2 == "realloc" { printf "%s < %s\n%s > %s 0x%x\n", c, $4, c, $3, $5
			  next }
	$2 == "calloc" { printf "%s + %s 0x%x\n", c, $3, $4 * $5; next }
	{ printf "%s + %s 0x%x\n", c, $3, $NF }' "$T/gen.txt" >"$T/gen.mtrace"
M=$(wc -l <"$T/gen.mtrace")
run "convert generated mtrace" "$M" \
	"$HEAPTAPE" convert --from mtrace "$T/gen.mtrace" "$T/m.htape"
rm -f "$T/gen.txt" "$T/gen.mtrace" "$T/gen.txt.zst" "$T/sui.txt"
