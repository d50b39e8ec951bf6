#!/bin/sh
# redis_py.sh BUILD - Debian's python3-redis (under /usr/bin/python3, not
# whatever python3 comes first on PATH) against a real Titan.
set -u

. "$(dirname "$0")/lib/server.sh"

py=/usr/bin/python3
[ -x $py ] || fail "no $py"
$py -c 'import redis' 2>/dev/null ||
	fail "$py has no redis module (apt-get install python3-redis)"
command -v redis-cli >/dev/null || fail "redis-cli not installed (apt-get install redis-tools)"

start_server
$py "$(dirname "$0")/redis_py_check.py" "$port" || fail "redis_py_check.py failed"
stop_server
echo "redis_py.sh: ok"
