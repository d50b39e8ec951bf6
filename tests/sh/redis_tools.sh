#!/bin/sh
# redis_tools.sh BUILD - Debian's redis-cli and redis-benchmark against a
# real Titan: both run clean and print sane output; SIGTERM exits 0.
set -u

build=${1:-build}
case $build in /*) ;; *) build="$PWD/$build" ;; esac
sup="$build/titan-supervisor"
dir=
pid=

fail() {
	echo "redis_tools.sh: FAIL: $*" >&2
	[ -n "$dir" ] && [ -f "$dir/titan.log" ] && tail -20 "$dir/titan.log" >&2
	exit 1
}

cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "$dir" ] && rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Start a supervisor on a free port in a temp dir; poll until it answers.
start_server() {
	[ -x "$sup" ] || fail "no $sup (build it first)"
	dir=$(mktemp -d /tmp/titan-sh-XXXXXX) || fail "mktemp"
	port=$(free_port) || fail "no free port"
	cat >"$dir/titan.conf" <<EOF
port $port
bind 127.0.0.1
dir $dir
logfile $dir/titan.log
shards 2
EOF
	"$sup" -c "$dir/titan.conf" >"$dir/stdout" 2>&1 &
	pid=$!
	i=0
	until [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; do
		kill -0 "$pid" 2>/dev/null || fail "supervisor died at start: $(cat "$dir/stdout")"
		i=$((i + 1))
		[ $i -le 150 ] || fail "no PONG on port $port after 15 s"
		sleep 0.1
	done
}

# SIGTERM, then wait (bounded by a watchdog) and insist on exit 0.
stop_server() {
	kill -TERM "$pid"
	(sleep 15 && kill -9 "$pid" 2>/dev/null) &
	wd=$!
	wait "$pid"
	rc=$?
	kill "$wd" 2>/dev/null
	pid=
	[ $rc -eq 0 ] || fail "supervisor exited with $rc after SIGTERM (137: hung, killed)"
	# a SAN=1 build reports on stderr
	! grep -q 'ERROR: AddressSanitizer\|runtime error' "$dir/stdout" ||
		fail "sanitizer report: $(cat "$dir/stdout")"
}

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
