# import_tap.sh - sourced by the importer tests (t_import.sh,
# t_heaptrack.sh, t_lttng.sh): TAP output and what they all ask of an
# imported trace.
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # what command...
	w=$1
	shift
	if "$@"; then ok "$w"; else nok "$w"; fi
}
DUMP=$HT_BUILD/tests/import_dump
# meta KEY FILE: the value of a metadata key of an imported trace.
meta() { "$DUMP" meta "$2" | sed -n "s/^$1=//p"; }
