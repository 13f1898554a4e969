#!/bin/sh
# deps.sh - install the Debian packages a target needs, when missing.
# usage: deps.sh check|bench|fuzz
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -u
BUILD="gcc make pkg-config libzstd-dev libxxhash-dev libzip-dev libfwnt-dev libjansson-dev libbabeltrace2-dev"
TEST="zstd python3 sqlite3 heaptrack libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 procps
      strace lttng-tools liblttng-ust1 babeltrace2"
case "${1:-check}" in
check) want="$BUILD $TEST" ;;
bench) want="$BUILD $TEST heaptrack lttng-tools liblttng-ust-dev babeltrace2" ;;
fuzz)  want="$BUILD clang libclang-rt-14-dev" ;;
*) echo "usage: deps.sh check|bench|fuzz" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
	case "$s" in *" installed") ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq $missing >/tmp/heaptape-deps.log 2>&1; then
		apt-get update -qq >>/tmp/heaptape-deps.log 2>&1
		apt-get install -y -qq $missing >>/tmp/heaptape-deps.log 2>&1 || {
			echo "deps: apt-get install failed, see /tmp/heaptape-deps.log" >&2
			exit 1
		}
	fi
else
	echo "deps: missing Debian packages; run:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
