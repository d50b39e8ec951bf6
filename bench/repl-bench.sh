#!/bin/sh
# repl-bench.sh [TITAN_SUPERVISOR] - SET throughput on a master with one
# stock redis-server 7.0 replica attached (redis-benchmark -t set -P 16),
# Titan master vs stock Redis master, and the replication lag under that
# load: a probe writes a counter on the master and times how long until
# the replica shows it (p50/p99).  Runs alternate, the median is printed.
#
# Env: N (SETs per run, default 500000), CLIENTS (50), RUNS (3),
# SHARDS (2), PIPELINE (16; 1 with few CLIENTS is a moderate load, where
# the lag shows the path rather than a saturated box), REDIS_SERVER, KINDS ("titan redis": which masters to run;
# "titan" alone for A/B runs of two Titan builds).
set -u

here=$(cd "$(dirname "$0")" && pwd)
titan=${1:-$here/../build/titan-supervisor}
case $titan in /*) ;; *) titan="$PWD/$titan" ;; esac
redis_server=${REDIS_SERVER:-/usr/bin/redis-server}
N=${N:-500000}
CLIENTS=${CLIENTS:-50}
RUNS=${RUNS:-3}
SHARDS=${SHARDS:-2}
KINDS=${KINDS:-titan redis}
PIPELINE=${PIPELINE:-16}
py=/usr/bin/python3

. "$here/lib/servers.sh"

[ -x "$titan" ] || die "no titan-supervisor at $titan (make all, or pass its path)"
[ -x "$redis_server" ] || die "no $redis_server (apt-get install redis-server)"
command -v redis-benchmark >/dev/null || die "no redis-benchmark (apt-get install redis-tools)"
$py -c 'import redis' 2>/dev/null || die "$py has no redis module (apt-get install python3-redis)"

tmp=$(mktemp -d /tmp/titan-replbench-XXXXXX) || die "mktemp"
pids=
# servers.sh's exit trap calls this one
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	sleep 0.3
	for p in $pids; do
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}

wait_ping() {
	i=0
	until [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; do
		i=$((i + 1))
		[ $i -le 150 ] || die "port $1 does not answer"
		sleep 0.1
	done
}

wait_online() {
	i=0
	until redis-cli -p "$1" info replication | grep -q "^master_link_status:up"; do
		i=$((i + 1))
		[ $i -le 300 ] || die "the replica on port $1 never got in sync"
		sleep 0.1
	done
}

# start_master KIND DIR: sets mport
start_master() {
	mport=$(free_port)
	mkdir -p "$2"
	if [ "$1" = titan ]; then
		cat >"$2/titan.conf" <<EOF
port $mport
bind 127.0.0.1
titan-port 0
http-port 0
save ""
dir $2
logfile $2/titan.log
shards $SHARDS
appendonly no
EOF
		"$titan" -c "$2/titan.conf" >"$2/stdout" 2>&1 &
	else
		"$redis_server" --port "$mport" --bind 127.0.0.1 --dir "$2" \
			--save '' --appendonly no --logfile "$2/redis.log" &
	fi
	mpid=$!
	pids="$pids $mpid"
	wait_ping "$mport"
}

start_replica() {
	rport=$(free_port)
	mkdir -p "$1"
	"$redis_server" --port "$rport" --bind 127.0.0.1 --dir "$1" --save '' \
		--appendonly no --replicaof 127.0.0.1 "$mport" \
		--logfile "$1/redis.log" &
	rpid=$!
	pids="$pids $rpid"
	wait_ping "$rport"
	wait_online "$rport"
}

# The lag probe: until $1 exists, SET probe <n> on the master and time
# how long the replica takes to show it.  Prints "p50 p99" in ms.
probe() {
	$py - "$mport" "$rport" "$1" <<'EOF'
import os, sys, time, redis
m = redis.Redis(port=int(sys.argv[1]))
r = redis.Redis(port=int(sys.argv[2]))
stop = sys.argv[3]
lags = []
n = 0
while not os.path.exists(stop) or len(lags) < 20:
    n += 1
    t0 = time.perf_counter()
    m.set("lagprobe", n)
    while r.get("lagprobe") != str(n).encode():
        time.sleep(0.0002)
        if time.perf_counter() - t0 > 30:
            break
    lags.append((time.perf_counter() - t0) * 1000)
    time.sleep(0.005)
lags.sort()
print("%.2f %.2f" % (lags[len(lags) // 2], lags[min(len(lags) - 1, int(len(lags) * 0.99))]))
EOF
}

# CPU ticks (utime + stime) of the master: the process and its children
cpu_ticks() {
	for p in $1 $(pgrep -P "$1"); do
		awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null
	done | awk '{ s += $1 } END { print s + 0 }'
}

# Context switches of every thread of the master: each is a wake-up on
# the replication path (or elsewhere)
ctx_switches() {
	for p in $1 $(pgrep -P "$1"); do
		cat /proc/"$p"/task/*/status 2>/dev/null
	done | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'
}

run_one() {
	kind=$1
	d="$tmp/$kind-$2"
	start_master "$kind" "$d/m"
	start_replica "$d/r"
	rm -f "$d/stop"
	probe "$d/stop" >"$d/lag" &
	ppid=$!
	c0=$(cpu_ticks "$mpid")
	x0=$(ctx_switches "$mpid")
	rps=$(redis-benchmark -p "$mport" -t set -P "$PIPELINE" -c "$CLIENTS" -n "$N" \
		-r 100000 -q 2>/dev/null | tr '\r' '\n' |
		sed -n 's/^SET: \([0-9.]*\) requests per second.*/\1/p' | tail -1)
	c1=$(cpu_ticks "$mpid")
	x1=$(ctx_switches "$mpid")
	touch "$d/stop"
	wait "$ppid"
	lag=$(cat "$d/lag")
	# the master's CPU per SET, in microseconds (ticks are 1/100 s)
	cpu=$(awk -v a="$c0" -v b="$c1" -v n="$N" \
		'BEGIN { printf "%.2f", (b - a) * 10000 / n }')
	ctx=$(awk -v a="$x0" -v b="$x1" -v n="$N" \
		'BEGIN { printf "%.1f", (b - a) * 1000 / n }')
	# the replica must hold what the master holds
	i=0
	until [ "$(redis-cli -p "$mport" dbsize)" = "$(redis-cli -p "$rport" dbsize)" ]; do
		i=$((i + 1))
		[ $i -le 100 ] || die "$kind: replica DBSIZE differs after the run"
		sleep 0.1
	done
	echo "$rps $lag $cpu $ctx"
	kill "$rpid" "$mpid" 2>/dev/null
	wait "$rpid" "$mpid" 2>/dev/null
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# N=$N CLIENTS=$CLIENTS RUNS=$RUNS SHARDS=$SHARDS, redis-benchmark -t set -P $PIPELINE -r 100000"
: >"$tmp/titan.res"
: >"$tmp/redis.res"
for run in $(seq "$RUNS"); do
	for k in $KINDS; do
		run_one "$k" "$run" >>"$tmp/$k.res" || exit 1
	done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
titan_rps=0
redis_rps=0
for k in $KINDS; do
	rps=$(cut -d' ' -f1 "$tmp/$k.res" | median)
	p50=$(cut -d' ' -f2 "$tmp/$k.res" | median)
	p99=$(cut -d' ' -f3 "$tmp/$k.res" | median)
	cpu=$(cut -d' ' -f4 "$tmp/$k.res" | median)
	ctx=$(cut -d' ' -f5 "$tmp/$k.res" | median)
	eval "${k}_rps=$rps"
	printf '%s master + stock replica: SET %s req/s, lag p50 %s ms, p99 %s ms, master CPU %s us/SET, %s context switches/1000 SET (runs: %s; p99s: %s)\n' \
		"$k" "$rps" "$p50" "$p99" "$cpu" "$ctx" "$(cut -d' ' -f1 "$tmp/$k.res" | tr '\n' ' ')" \
		"$(cut -d' ' -f3 "$tmp/$k.res" | tr '\n' ' ')"
done
awk -v t="$titan_rps" -v r="$redis_rps" 'BEGIN { if (r > 0) printf "titan/redis: %.2fx\n", t / r }'
