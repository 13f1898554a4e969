#!/bin/sh
# t_spec.sh - proves spec/vectors/ against the binary and keeps the spec in
# step with the tests:
#  - every vectors/NAME.hex converts (unhex), `heaptape cat --strict`
#    prints exactly NAME.cat and `heaptape verify` finds it clean;
#  - every vectors/bad/R-*.hex is rejected (exit 1) by `cat --strict` and
#    by `verify`, and the error names an offset; a bad EVENTS block
#    (R-EV-*) stops `convert` to htape, or `--salvage` skips it;
#  - tests/tools/refdec.c, a second decoder written from FORMAT.md alone,
#    prints NAME.cat for every good vector and rejects every bad one
#    naming the very rule in the vector's name (so each bad vector breaks
#    that rule and it comes first);
#  - the hex block embedded in spec/FORMAT.md is byte for byte min.hex;
#  - every rule id R-* of spec/FORMAT.md appears in a vector name or in a
#    test (tests/unit/test_format*.c, tests/t_*.sh).
set -u
H=$HEAPTAPE
UNHEX=$HT_BUILD/tests/unhex
REF=$HT_BUILD/tests/refdec
V=$HT_TOP/spec/vectors
SPEC=$HT_TOP/spec/FORMAT.md
d=$HT_TMP/spec
mkdir -p "$d"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); echo "not ok $n - $1"; }

for f in "$V"/*.hex; do
	name=$(basename "$f" .hex)
	if ! "$UNHEX" "$f" "$d/$name.htape" 2>"$d/err"; then
		no "$name.hex converts"; sed 's/^/# /' "$d/err"; continue
	fi
	if "$H" cat --strict "$d/$name.htape" >"$d/$name.out" 2>"$d/err" &&
	    cmp -s "$d/$name.out" "$V/$name.cat"; then
		ok "$name: cat prints $name.cat"
	else
		no "$name: cat prints $name.cat"
		diff "$V/$name.cat" "$d/$name.out" | head -5 | sed 's/^/# /'
		sed 's/^/# /' "$d/err" | head -3
	fi
	if "$H" verify "$d/$name.htape" >"$d/out" 2>&1; then
		ok "$name: verify finds it clean"
	else
		no "$name: verify finds it clean"; sed 's/^/# /' "$d/out" | head -3
	fi
	if "$REF" "$d/$name.htape" >"$d/$name.ref" 2>&1 &&
	    cmp -s "$d/$name.ref" "$V/$name.cat"; then
		ok "$name: the reference decoder prints $name.cat"
	else
		no "$name: the reference decoder prints $name.cat"
		head -3 "$d/$name.ref" | sed 's/^/# /'
	fi
done

for f in "$V"/bad/R-*.hex; do
	name=$(basename "$f" .hex)
	if ! "$UNHEX" "$f" "$d/$name.htape" 2>"$d/err"; then
		no "bad/$name.hex converts"; sed 's/^/# /' "$d/err"; continue
	fi
	"$H" cat --strict "$d/$name.htape" >/dev/null 2>"$d/err"
	rc=$?
	if [ "$rc" = 1 ] && grep -q 'offset [0-9]' "$d/err"; then
		ok "bad/$name rejected by cat --strict"
	else
		no "bad/$name rejected by cat --strict (exit $rc)"
		sed 's/^/# /' "$d/err" | head -3
	fi
	"$H" verify "$d/$name.htape" >"$d/out" 2>&1
	rc=$?
	if [ "$rc" = 1 ]; then
		ok "bad/$name rejected by verify"
	else
		no "bad/$name rejected by verify (exit $rc)"
	fi
	case $name in R-EV-*)
		# an EVENTS block that opens but does not decode: convert
		# stops (no output), or with --salvage skips it and says where
		rm -f "$d/x.htape"
		"$H" convert "$d/$name.htape" "$d/x.htape" 2>"$d/err"
		rc=$?
		[ "$rc" = 1 ] && [ ! -e "$d/x.htape" ] &&
			grep -q 'offset [0-9]' "$d/err" &&
			ok "bad/$name: convert exits 1, writes nothing" ||
			no "bad/$name: convert (exit $rc)"
		"$H" convert --salvage "$d/$name.htape" "$d/x.htape" 2>"$d/err"
		rc=$?
		[ "$rc" = 0 ] && grep -q 'offset [0-9]*: .*skipped' "$d/err" &&
			"$H" verify -q "$d/x.htape" &&
			ok "bad/$name: convert --salvage skips the block" ||
			no "bad/$name: convert --salvage (exit $rc)"
		rm -f "$d/x.htape"
	esac
	# The rule the reference decoder names; 8 stray bytes where the
	# first block must start (R-BLK-1) show as a bad block magic.
	rule=$(echo "$name" | sed 's/^\(R-[A-Z]*-[0-9]*\).*/\1/')
	"$REF" "$d/$name.htape" >"$d/out" 2>&1
	rc=$?
	said=$(sed -n 's/^refdec: \(R-[A-Z]*-[0-9]*\) .*/\1/p' "$d/out")
	if [ "$rc" = 1 ] && { [ "$said" = "$rule" ] ||
	    { [ "$rule" = R-BLK-1 ] && [ "$said" = R-BLK-2 ]; }; }; then
		ok "bad/$name: the reference decoder says $rule"
	else
		no "bad/$name: the reference decoder says $rule (exit $rc," \
		   "said '$said')"
	fi
done

# The hex block of FORMAT.md appendix A is min.hex.
sed -n '/^<!-- BEGIN min.hex/,/^<!-- END min.hex/p' "$SPEC" |
	sed '1,2d;$d' | sed '$d' >"$d/embedded.hex"
if cmp -s "$d/embedded.hex" "$V/min.hex"; then
	ok "FORMAT.md embeds min.hex unchanged"
else
	no "FORMAT.md embeds min.hex unchanged"
	diff "$V/min.hex" "$d/embedded.hex" | head -5 | sed 's/^/# /'
fi

# Every rule id of the spec is exercised by a vector or a test.
ls "$V" "$V/bad" >"$d/names"
cat "$HT_TOP"/tests/unit/test_format*.c "$HT_TOP"/tests/t_*.sh \
	>>"$d/names"
missing=
for id in $(grep -o '\*\*\[R-[A-Z]*-[0-9]*\]\*\*' "$SPEC" |
	    tr -d '*[]' | sort -u); do
	grep -q -- "$id\\([^0-9]\\|\$\\)" "$d/names" || missing="$missing $id"
done
if [ -z "$missing" ]; then
	ok "every rule id of FORMAT.md is exercised"
else
	no "every rule id of FORMAT.md is exercised (missing:$missing)"
fi
count=$(grep -o '\*\*\[R-[A-Z]*-[0-9]*\]\*\*' "$SPEC" | sort -u | wc -l)
[ "$count" -ge 40 ] && ok "FORMAT.md defines $count rules" ||
	no "FORMAT.md defines only $count rules"

# Durations (column 13, 1.3) through zstd, many blocks and threads: the
# library and the reference decoder read the same events and durations,
# and the events are those of the same seed written without durations.
G=$HT_BUILD/tests/gentrace
"$G" -d -s 5 -n 30000 -t 3 "$d/dur.htape" &&
	"$H" cat --strict "$d/dur.htape" >"$d/dur.cat" 2>/dev/null &&
	"$REF" "$d/dur.htape" >"$d/dur.ref" 2>&1
"$G" -s 5 -n 30000 -t 3 "$d/nodur.htape" &&
	"$H" cat --strict "$d/nodur.htape" >"$d/nodur.cat" 2>/dev/null
lines=$(wc -l <"$d/dur.cat")
timed=$(grep -c ' in [0-9]*ns$' "$d/dur.cat")
if [ "$lines" = 90000 ] && cmp -s "$d/dur.cat" "$d/dur.ref" &&
   [ "$timed" -gt 70000 ] &&
   sed 's/ in [0-9]*ns$//' "$d/dur.cat" | cmp -s - "$d/nodur.cat"; then
	ok "durations: 90000 events, $timed timed, cat = refdec, the same events as without"
else
	no "durations: $lines events, $timed timed, cat and refdec agree, same events"
fi
echo "1..$n"
