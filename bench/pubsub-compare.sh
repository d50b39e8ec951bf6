#!/bin/sh
# pubsub-compare.sh [TITAN_SUPERVISOR] - pub/sub throughput and latency of
# Titan against Debian's redis-server, measured by bench/pubsub-bench.c
# (built here).  See bench/README.md.
set -u

here=$(cd "$(dirname "$0")" && pwd)
titan=${1:-$here/../build/titan-supervisor}
case $titan in /*) ;; *) titan="$PWD/$titan" ;; esac
redis_server=${REDIS_SERVER:-/usr/bin/redis-server}
MSGS=${MSGS:-200000}
LAT_MSGS=${LAT_MSGS:-20000}
SUBS=${SUBS:-10}
WINDOW=${WINDOW:-64}
SHARDS=${SHARDS:-2}
out_dir=$here/out
bin=$out_dir/pubsub-bench
tmp=
rpid=
tpid=

die() {
	echo "pubsub-compare.sh: $*" >&2
	exit 1
}

# Stop a server we started: SIGTERM, then SIGKILL if it lingers.
stop_pid() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do
		# a zombie answers kill -0: reap it as soon as it has exited
		if ! grep -q '^State:.*[ZX]' "/proc/$1/status" 2>/dev/null; then
			sleep 0.1
			i=$((i + 1))
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

[ -x "$titan" ] || die "no titan-supervisor at $titan (make all, or pass its path)"
[ -x "$redis_server" ] || die "no $redis_server (apt-get install redis-server)"
for t in redis-cli python3 cc; do
	command -v $t >/dev/null || die "$t not found"
done

mkdir -p "$out_dir"
cc -O2 -Wall -o "$bin" "$here/pubsub-bench.c" || die "building pubsub-bench failed"

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_ready() { # PORT PID NAME
	i=0
	until [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; do
		kill -0 "$2" 2>/dev/null || die "$3 died at start (logs in $tmp)"
		i=$((i + 1))
		[ $i -le 300 ] || die "$3 does not answer on port $1"
		sleep 0.1
	done
}

tmp=$(mktemp -d /tmp/titan-psbench-XXXXXX) || die "mktemp"
rport=$(free_port)
tport=$(free_port)
[ "$rport" != "$tport" ] || tport=$(free_port)

"$redis_server" --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
	--dir "$tmp" --logfile "$tmp/redis.log" --daemonize no \
	--protected-mode no >/dev/null 2>&1 &
rpid=$!
cat >"$tmp/titan.conf" <<EOF
port $tport
bind 127.0.0.1
dir $tmp
logfile $tmp/titan.log
shards $SHARDS
EOF
"$titan" -c "$tmp/titan.conf" >"$tmp/titan.stdout" 2>&1 &
tpid=$!
wait_ready "$rport" "$rpid" redis-server
wait_ready "$tport" "$tpid" titan

echo "pubsub-compare: redis-server on $rport, titan ($SHARDS shards) on $tport;" \
	"$SUBS subscribers, $MSGS msgs (window $WINDOW), $LAT_MSGS paced" >&2

run() { # PORT NAME MODE COUNT -> key value lines in $tmp/NAME.MODE
	"$bin" -p "$1" -m "$3" -n "$4" -s "$SUBS" -w "$WINDOW" \
		>"$tmp/$2.$3" 2>>"$tmp/bench.err" ||
		die "$2 $3 run failed: $(tail -3 "$tmp/bench.err")"
}

# alternate servers so drift on a busy machine hits both
echo "pubsub-compare: throughput" >&2
run "$rport" redis tput "$MSGS"
run "$tport" titan tput "$MSGS"
echo "pubsub-compare: latency" >&2
run "$rport" redis lat "$LAT_MSGS"
run "$tport" titan lat "$LAT_MSGS"

cat "$tmp/redis.tput" "$tmp/redis.lat" >"$tmp/redis.all"
cat "$tmp/titan.tput" "$tmp/titan.lat" >"$tmp/titan.all"

table=$tmp/table.txt
awk '
	FNR == NR { r[$1] = $2; next }
	{ t[$1] = $2 }
	END {
		printf "%-26s %14s %14s %7s\n", "metric", "redis", "titan", "ratio"
		n = split("tput_publish_per_s tput_delivered_per_s tput_delivered " \
			  "lat_p50_us lat_p99_us lat_msgs", k, " ")
		for (i = 1; i <= n; i++) {
			ratio = (r[k[i]] + 0 > 0) ? sprintf("%.2f", t[k[i]] / r[k[i]]) : "-"
			printf "%-26s %14s %14s %7s\n", k[i], r[k[i]], t[k[i]], ratio
		}
	}' "$tmp/redis.all" "$tmp/titan.all" >"$table"

if [ -s "$tmp/bench.err" ]; then
	echo "pubsub-compare: pubsub-bench complained:" >&2
	sort -u "$tmp/bench.err" | head -10 >&2
fi
{
	echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC') $(uname -nr), $(nproc) CPUs;" \
		"subs=$SUBS msgs=$MSGS window=$WINDOW lat_msgs=$LAT_MSGS titan shards=$SHARDS"
	echo "# expected deliveries: tput $((MSGS * SUBS)), lat $((LAT_MSGS * SUBS))"
	cat "$table"
} >"$out_dir/pubsub-last.txt"
cat "$out_dir/pubsub-last.txt"
