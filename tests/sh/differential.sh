#!/bin/sh
# differential.sh BUILD - differential.py (under /usr/bin/python3) sends
# the same seeded random command stream to a stock redis-server and to a
# real two-shard Titan and compares every reply, error texts included.
#   DIFF_SEEDS=1-30 DIFF_COUNT=5000 sh tests/sh/differential.sh build
# runs more of it.
set -u

. "$(dirname "$0")/lib/server.sh"

py=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the tree
[ -x $py ] || fail "no $py"
command -v redis-cli >/dev/null || fail "redis-cli not installed (apt-get install redis-tools)"
if ! command -v redis-server >/dev/null; then
	echo "differential.sh: no redis-server to compare with (apt-get install redis-server)" >&2
	exit 77
fi

rdir=
rpid=
stop_redis() {
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
	rpid=
	[ -n "$rdir" ] && rm -rf "$rdir"
	rdir=
}
trap 'stop_redis; cleanup' EXIT

start_server
rdir=$(mktemp -d /tmp/titan-diff-redis-XXXXXX) || fail "mktemp"
rport=$(free_port) || fail "no free port"
(cd "$rdir" && exec redis-server --port "$rport" --bind 127.0.0.1 \
	--save '' --appendonly no --dir "$rdir" \
	--logfile "$rdir/redis.log") &
rpid=$!
poll "no PONG from redis-server on port $rport" pong "$rport"

$py "$(dirname "$0")/differential.py" "$rport" "$port" \
	--seeds "${DIFF_SEEDS:-1,2,3}" --count "${DIFF_COUNT:-3000}" ||
	fail "Titan's replies differ from redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')'s"
stop_redis
stop_server
rm -rf "$dir"
dir=
echo "differential.sh: ok"
