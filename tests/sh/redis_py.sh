#!/bin/sh
# redis_py.sh BUILD - Debian's python3-redis (under /usr/bin/python3, not
# whatever python3 comes first on PATH) against a real two-shard Titan:
# redis_py_check.py (commands and pipelines) and redis_py_pubsub.py
# (PubSub and keyspace notifications), each on a fresh supervisor.
set -u

. "$(dirname "$0")/lib/server.sh"

py=/usr/bin/python3
[ -x $py ] || fail "no $py"
$py -c 'import redis' 2>/dev/null ||
	fail "$py has no redis module (apt-get install python3-redis)"
command -v redis-cli >/dev/null || fail "redis-cli not installed (apt-get install redis-tools)"

for script in redis_py_check.py redis_py_pubsub.py; do
	start_server
	$py "$(dirname "$0")/$script" "$port" || fail "$script failed"
	stop_server
	rm -rf "$dir"
done
echo "redis_py.sh: ok"
