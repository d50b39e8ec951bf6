# server.sh - sourced by the shell tests: start a real titan-supervisor
# on a free port in a temp dir (start_server), stop it and insist on a
# clean exit (stop_server), fail with the log's tail (fail).  The test
# passes the build dir as $1.
build=${1:-build}
case $build in /*) ;; *) build="$PWD/$build" ;; esac
sup="$build/titan-supervisor"
dir=
pid=

fail() {
	echo "$(basename "$0"): FAIL: $*" >&2
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

# poll WHAT CMD...: run CMD every 0.1 s until it succeeds, for at most
# 15 s; fail saying WHAT if it never does or if the supervisor dies.
poll() {
	what=$1
	shift
	i=0
	until "$@" >/dev/null 2>&1; do
		[ -z "$pid" ] || kill -0 "$pid" 2>/dev/null ||
			fail "supervisor died: $(cat "$dir/stdout")"
		i=$((i + 1))
		[ $i -le 150 ] || fail "$what after 15 s"
		sleep 0.1
	done
}

pong() {
	[ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]
}

# start_server [TITAN_PORT [HTTP_PORT]]: start a supervisor on a free RESP
# port in a temp dir, with the scheduler and the dashboard on the given
# ports (0, the default: not started) and the directives in $extra_conf;
# poll until the store answers and, when asked for, the scheduler too.
start_server() {
	[ -x "$sup" ] || fail "no $sup (build it first)"
	tport=${1:-0}
	hport=${2:-0}
	dir=$(mktemp -d /tmp/titan-sh-XXXXXX) || fail "mktemp"
	port=$(free_port) || fail "no free port"
	cat >"$dir/titan.conf" <<EOF
port $port
bind 127.0.0.1
titan-port $tport
http-port $hport
dir $dir
logfile $dir/titan.log
shards 2
${extra_conf:-}
EOF
	"$sup" -c "$dir/titan.conf" >"$dir/stdout" 2>&1 &
	pid=$!
	poll "no PONG on port $port" pong "$port"
	[ "$tport" = 0 ] || poll "no scheduler on port $tport" "$build/titan" -p "$tport" workers
}

# Is process $1 gone or a zombie (exited, not yet reaped by us)?
exited() {
	[ "$(sed -n 's/.*) \(.\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)" != Z ] &&
		[ -d "/proc/$1" ] && return 1
	return 0
}

# SIGTERM, then wait at most 15 s (polled in the foreground: a background
# watchdog would leave its sleep behind) and insist on exit 0.
stop_server() {
	kill -TERM "$pid"
	i=0
	until exited "$pid"; do
		i=$((i + 1))
		if [ $i -gt 150 ]; then
			kill -9 "$pid" 2>/dev/null
			break
		fi
		sleep 0.1
	done
	wait "$pid"
	rc=$?
	pid=
	[ $rc -eq 0 ] || fail "supervisor exited with $rc after SIGTERM (137: hung, killed)"
	# a SAN=1 build reports on stderr
	! grep -q 'ERROR: AddressSanitizer\|runtime error' "$dir/stdout" ||
		fail "sanitizer report: $(cat "$dir/stdout")"
}
