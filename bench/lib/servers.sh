# servers.sh - sourced by the bench scripts: start a stock redis-server and
# Titan side by side on free ports in a temp dir (start_servers), and stop
# both however the script exits.  The caller sets titan, redis_server,
# SHARDS and tmp_prefix first; start_servers sets tmp, rport, tport.
rpid=
tpid=
tmp=

die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

# Stop a server we started: SIGTERM, then SIGKILL if it lingers.
stop_pid() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	stop_tries=0
	while kill -0 "$1" 2>/dev/null && [ $stop_tries -lt 100 ]; do
		# a zombie answers kill -0: reap it as soon as it has exited
		if ! grep -q '^State:.*[ZX]' "/proc/$1/status" 2>/dev/null; then
			sleep 0.1
			stop_tries=$((stop_tries + 1))
		else
			break
		fi
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

cleanup() {
	stop_pid "$tpid"
	stop_pid "$rpid"
	[ -n "$tmp" ] && [ -z "${KEEP_TMP:-}" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

median() { # values... -> their median (0 when none)
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
		END {
			if (!NR) m = 0
			else if (NR % 2) m = v[(NR + 1) / 2]
			else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
			print m
		}'
}

wait_ready() { # PORT PID NAME
	ready_tries=0
	until [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; do
		kill -0 "$2" 2>/dev/null || die "$3 died at start (logs in $tmp)"
		ready_tries=$((ready_tries + 1))
		[ $ready_tries -le 300 ] || die "$3 does not answer on port $1"
		sleep 0.1
	done
}

start_servers() {
	tmp=$(mktemp -d /tmp/${tmp_prefix}-XXXXXX) || die "mktemp"
	rport=$(free_port)
	tport=$(free_port)
	[ "$rport" != "$tport" ] || tport=$(free_port)

	"$redis_server" --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$tmp" --logfile "$tmp/redis.log" --daemonize no \
		--protected-mode no >/dev/null 2>&1 &
	rpid=$!
	cat >"$tmp/titan.conf" <<-EOF
	port $tport
	bind 127.0.0.1
	titan-port 0
	http-port 0
	save ""
	dir $tmp
	logfile $tmp/titan.log
	shards $SHARDS
	EOF
	"$titan" -c "$tmp/titan.conf" >"$tmp/titan.stdout" 2>&1 &
	tpid=$!
	wait_ready "$rport" "$rpid" redis-server
	wait_ready "$tport" "$tpid" titan
}
