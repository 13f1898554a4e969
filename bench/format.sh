#!/bin/sh
# format.sh - libheaptape encode and decode speed on one core and
# bytes/event on a realistic synthetic stream (bench/bench_format.c: 4
# threads, skewed sizes, reused addresses, ns timestamps), against the
# same events as plain 40-byte rows compressed by `zstd -3` and
# `zstd -19` (the zstd CLI, one thread).  Goals (issue 2): encode >= 30 M
# events/s, decode >= 100 M events/s, smaller than both row baselines.
# Decoding is measured into events (decode_block) and into columns
# (decode_columns).
# FORMAT_EVENTS=N events per thread (default 250000).
set -u
B=$HT_BUILD/bench/bench_format
d=$HT_TMP/format
mkdir -p "$d"
per=${FORMAT_EVENTS:-250000}
total=$((per * 4))

"$B" -n "$per" -r 3 -o "$d/t.htape" -w "$d/rows.bin" >"$d/out" || {
	echo "bench_format failed"; exit 1; }
cat "$d/out"
ours=$(wc -c <"$d/t.htape")
# Where the time goes: the same with zstd off (the column codecs alone).
"$B" -n "$per" -r 3 -u -o "$d/u.htape" |
	awk '/^(encode|decode) [0-9.]+ M/ {
		sub(/, one core\)/, ")"); print "without zstd: " $0 }'
rm -f "$d/u.htape"
# The decoder's vector paths need AVX-512 (and BMI2, VBMI2); a CPU
# without them takes the portable loops, measured here on the same trace.
D=$HT_BUILD/bench/bench_dec
if [ -x "$D" ]; then
	b=$("$D" -p -r 3 "$d/t.htape" | sed -n 's/.*decode \([0-9.]*\) M.*/\1/p')
	c=$("$D" -p -c -r 3 "$d/t.htape" | sed -n 's/.*decode \([0-9.]*\) M.*/\1/p')
	echo "portable loops (no AVX-512): decode $b M events/s (decode_block), $c (decode_columns)"
fi
if command -v zstd >/dev/null; then
	z3=$(zstd -3 -T1 -c "$d/rows.bin" | wc -c)
	z19=$(zstd -19 -T1 -c "$d/rows.bin" | wc -c)
	awk -v o="$ours" -v a="$z3" -v b="$z19" -v n="$total" 'BEGIN {
		printf "rows (40 B/event) + zstd -3:  %.3f bytes/event; " \
		       "heaptape is %.2fx smaller\n", a / n, a / o
		printf "rows (40 B/event) + zstd -19: %.3f bytes/event; " \
		       "heaptape is %.2fx smaller\n", b / n, b / o
	}'
else
	echo "zstd CLI not installed: no row baselines"
fi
rm -f "$d/rows.bin"
