#!/bin/sh
# redis_tools.sh BUILD - Debian's redis-cli and redis-benchmark against a
# real Titan: both run clean and print sane output; SIGTERM exits 0.
set -u

. "$(dirname "$0")/lib/server.sh"

# expect WANT CMD...: redis-cli's output for CMD must be WANT.
expect() {
	want=$1
	shift
	got=$(redis-cli -p "$port" "$@" 2>&1) || fail "redis-cli $* exited $?"
	[ "$got" = "$want" ] || fail "redis-cli $*: got '$got', want '$want'"
}

command -v redis-cli >/dev/null || fail "redis-cli not installed (apt-get install redis-tools)"
command -v redis-benchmark >/dev/null || fail "redis-benchmark not installed"

start_server

expect PONG ping
expect OK set foo bar
expect bar get foo
expect "" get nosuch
expect 1 del foo
expect 0 exists foo
expect "hello world" ping "hello world"
got=$(redis-cli -p "$port" nosuchcmd 2>&1)
case $got in
"ERR unknown command 'nosuchcmd'"*) ;;
*) fail "redis-cli nosuchcmd: got '$got'" ;;
esac

# mass insertion, as the Redis docs teach it
out=$(python3 -c '
import sys
for i in range(1000):
    sys.stdout.write("SET pipe:%d %d\r\n" % (i, i))
' | redis-cli -p "$port" --pipe 2>&1) || fail "redis-cli --pipe exited $?: $out"
echo "$out" | grep -q "errors: 0, replies: 1000" || fail "redis-cli --pipe: $out"
expect 999 get pipe:999

out=$(redis-benchmark -p "$port" -t set,get -n 1000 -q 2>&1) ||
	fail "redis-benchmark exited $?: $out"
for t in SET GET; do
	line=$(printf '%s\n' "$out" | tr '\r' '\n' |
		grep -E "^ *$t: [0-9.]+ requests per second" | tail -1)
	[ -n "$line" ] || fail "redis-benchmark printed no $t result: $out"
	rps=$(echo "$line" | sed -E 's/^ *[A-Z]+: ([0-9.]+) .*/\1/')
	awk -v r="$rps" 'BEGIN { exit !(r > 0) }' || fail "redis-benchmark $t: $line"
	echo "redis_tools.sh: $line"
done
# redis-benchmark's SETs landed under its usual key (3 random bytes)
got=$(redis-cli -p "$port" --raw get key:__rand_int__)
[ ${#got} -eq 3 ] || fail "get key:__rand_int__ after redis-benchmark: '$got'"

stop_server
echo "redis_tools.sh: ok"
