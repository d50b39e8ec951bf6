#!/bin/sh
# pubsub-compare.sh [TITAN_SUPERVISOR] - pub/sub throughput and latency of
# Titan against Debian's redis-server, measured by bench/pubsub-bench.c
# (built here).  ROUNDS=n runs each measurement n times, alternating the
# servers, and reports each metric's median (a shared, busy machine),
# with the servers' CPU time per delivered message.
# See bench/README.md.
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
ROUNDS=${ROUNDS:-1}
out_dir=$here/out
bin=$out_dir/pubsub-bench

tmp_prefix=titan-psbench
. "$here/lib/servers.sh"

[ -x "$titan" ] || die "no titan-supervisor at $titan (make all, or pass its path)"
[ -x "$redis_server" ] || die "no $redis_server (apt-get install redis-server)"
for t in redis-cli python3 cc; do
	command -v $t >/dev/null || die "$t not found"
done

mkdir -p "$out_dir"
cc -O2 -Wall -o "$bin" "$here/pubsub-bench.c" || die "building pubsub-bench failed"

start_servers

echo "pubsub-compare: redis-server on $rport, titan ($SHARDS shards) on $tport;" \
	"$SUBS subscribers, $MSGS msgs (window $WINDOW), $LAT_MSGS paced," \
	"$ROUNDS round(s)" >&2

clk_tck=$(getconf CLK_TCK)

# utime + stime of the processes, in clock ticks ("pid (comm) state ..."
# with the comm cut off: it may hold blanks)
cpu_ticks() { # PID...
	for p in "$@"; do
		sed 's/.*) //' "/proc/$p/stat" 2>/dev/null
	done | awk '{ t += $12 + $13 } END { print t + 0 }'
}

server_pids() { # NAME -> the server's processes (Titan's whole tree)
	if [ "$1" = redis ]; then
		echo "$rpid"
	else
		echo "$tpid" $(ps --ppid "$tpid" -o pid=)
	fi
}

# Server CPU per delivered message: the load on a shared machine moves
# wall-clock rates by 2x, CPU per message far less.
run() { # PORT NAME MODE COUNT -> key value lines added to $tmp/NAME.MODE
	pids=$(server_pids "$2")
	c0=$(cpu_ticks $pids)
	"$bin" -p "$1" -m "$3" -n "$4" -s "$SUBS" -w "$WINDOW" \
		>"$tmp/run.out" 2>>"$tmp/bench.err" ||
		die "$2 $3 run failed: $(tail -3 "$tmp/bench.err")"
	c1=$(cpu_ticks $pids)
	cat "$tmp/run.out" >>"$tmp/$2.$3"
	awk -v t=$((c1 - c0)) -v hz="$clk_tck" -v m="$3" '
		$1 == "tput_delivered" || $1 == "lat_msgs" { n = $2 }
		END { if (n > 0) printf "%s_cpu_ns_per_msg %.0f\n", m, t * 1e9 / hz / n }
	' "$tmp/run.out" >>"$tmp/$2.$3"
}

median() { # FILES... -> each key's median value
	cat "$@" | sort -k1,1 -k2,2g | awk '
		{ v[$1, ++n[$1]] = $2 }
		END { for (k in n) print k, v[k, int((n[k] + 1) / 2)] }'
}

# alternate servers so drift on a busy machine hits both
r=0
while [ $r -lt "$ROUNDS" ]; do
	r=$((r + 1))
	echo "pubsub-compare: round $r: throughput" >&2
	run "$rport" redis tput "$MSGS"
	run "$tport" titan tput "$MSGS"
	echo "pubsub-compare: round $r: latency" >&2
	run "$rport" redis lat "$LAT_MSGS"
	run "$tport" titan lat "$LAT_MSGS"
done

median "$tmp/redis.tput" "$tmp/redis.lat" >"$tmp/redis.all"
median "$tmp/titan.tput" "$tmp/titan.lat" >"$tmp/titan.all"

table=$tmp/table.txt
awk '
	FNR == NR { r[$1] = $2; next }
	{ t[$1] = $2 }
	END {
		printf "%-26s %14s %14s %7s\n", "metric", "redis", "titan", "ratio"
		n = split("tput_publish_per_s tput_delivered_per_s tput_delivered " \
			  "tput_cpu_ns_per_msg lat_p50_us lat_p99_us lat_msgs " \
			  "lat_cpu_ns_per_msg", k, " ")
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
		"subs=$SUBS msgs=$MSGS window=$WINDOW lat_msgs=$LAT_MSGS titan shards=$SHARDS" \
		"rounds=$ROUNDS (medians)"
	echo "# expected deliveries: tput $((MSGS * SUBS)), lat $((LAT_MSGS * SUBS))"
	cat "$table"
} >"$out_dir/pubsub-last.txt"
cat "$out_dir/pubsub-last.txt"
