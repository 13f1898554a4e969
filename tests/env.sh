# env.sh - sourced by tests/run.sh and bench/run.sh from the source tree's
# top: the environment every test and benchmark script gets.
#   HEAPTAPE (the binary), HT_BUILD ($O), HT_PRELOAD (recorder library),
#   HT_TOP (the source tree), SHARED (../shared), HT_TMP (a scratch dir
#   named after $ht_kind: test or bench).
HT_TOP=$(pwd)
HT_BUILD=$(cd "${O:-build}" && pwd)
HEAPTAPE=$HT_BUILD/heaptape
HT_PRELOAD=$HT_BUILD/libheaptape-record.so
SHARED=${SHARED:-$(cd .. && pwd)/shared}
HT_TMP=$(mktemp -d "/tmp/heaptape-$ht_kind.XXXXXX")
export HT_BUILD HEAPTAPE HT_PRELOAD SHARED HT_TOP HT_TMP
