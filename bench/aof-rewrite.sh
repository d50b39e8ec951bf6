#!/bin/sh
# aof-rewrite.sh [BUILD] [KEYS] - the worst command latency a client sees
# while the AOF of KEYS keys (default 1000000) is rewritten: Titan (no
# fork: a journal thread snapshots one stripe at a time) next to a stock
# redis-server 7.0 (BGREWRITEAOF forks), same settings, same disk.
# A probe client sends SET in a loop from BGREWRITEAOF until the rewrite
# is over and reports the worst and the 99.9th percentile latency.
set -u
build=${1:-build}
keys=${2:-1000000}
case $build in /*) ;; *) build="$PWD/$build" ;; esac
py=/usr/bin/python3
$py -c 'import redis' 2>/dev/null || { echo "aof-rewrite.sh: needs python3-redis" >&2; exit 1; }
[ -x "$build/titan-supervisor" ] || { echo "aof-rewrite.sh: no $build/titan-supervisor" >&2; exit 1; }

tmp=$(mktemp -d /tmp/titan-bench-aofrw-XXXXXX)
tpid=
rpid=
cleanup() {
	[ -n "$tpid" ] && kill -TERM "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null
	[ -n "$rpid" ] && kill -TERM "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

free_port() {
	$py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_ready() {
	i=0
	until [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; do
		i=$((i + 1))
		[ $i -le 300 ] || { echo "aof-rewrite.sh: no answer on port $1" >&2; exit 1; }
		sleep 0.1
	done
}

probe() { # PORT NAME
	$py - "$1" "$2" "$keys" <<'EOF'
import sys, time, redis
port, name, keys = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
r = redis.Redis(port=port)
t0 = time.time()
p = r.pipeline(transaction=False)
for i in range(keys):
    p.set("key:%d" % i, "value-%d" % i)
    if i % 10000 == 9999:
        p.execute()
p.execute()
load_s = time.time() - t0
before = int(r.info("persistence")["aof_rewrites"])
probe = redis.Redis(port=port)
lat = []
start = time.time()
r.bgrewriteaof()
while True:
    t = time.perf_counter()
    probe.set("probe", "x")
    lat.append(time.perf_counter() - t)
    if len(lat) % 200 == 0:
        info = r.info("persistence")
        if not info["aof_rewrite_in_progress"] and int(info["aof_rewrites"]) > before:
            break
took = time.time() - start
lat.sort()
print("%-14s keys %d (loaded in %.1f s): rewrite %.2f s, %d probes, "
      "worst %.2f ms, p99.9 %.2f ms, median %.3f ms" %
      (name, r.dbsize(), load_s, took, len(lat), lat[-1] * 1e3,
       lat[int(len(lat) * 0.999)] * 1e3, lat[len(lat) // 2] * 1e3))
EOF
}

tport=$(free_port)
mkdir "$tmp/titan" "$tmp/redis"
cat >"$tmp/titan/titan.conf" <<EOF
port $tport
bind 127.0.0.1
titan-port 0
http-port 0
save ""
dir $tmp/titan
logfile $tmp/titan/titan.log
appendonly yes
appendfsync everysec
auto-aof-rewrite-percentage 0
EOF
"$build/titan-supervisor" -c "$tmp/titan/titan.conf" >/dev/null 2>&1 &
tpid=$!
wait_ready "$tport"
probe "$tport" "titan" || exit 1
kill -TERM "$tpid"
wait "$tpid"
tpid=

if command -v redis-server >/dev/null; then
	rport=$(free_port)
	redis-server --port "$rport" --bind 127.0.0.1 --dir "$tmp/redis" \
		--appendonly yes --appendfsync everysec --save "" \
		--auto-aof-rewrite-percentage 0 --logfile "$tmp/redis/redis.log" &
	rpid=$!
	wait_ready "$rport"
	probe "$rport" "redis-server" || exit 1
fi
