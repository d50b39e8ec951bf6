#!/bin/sh
# aof-compare.sh [TITAN_SUPERVISOR] - the cost of durability on the write
# path: redis-benchmark SET against a stock redis-server 7.0 and Titan
# with the AOF on (appendfsync everysec, always) and Titan with it off,
# same disk, runs alternated so that every column sees the same load.
#
# Env: N (SETs per run at 50 clients, default 200000; a quarter of it
# for `always`; with fewer clients, as many fewer), CLIENTS ("50 1": one
# table row per client count and pipeline), PIPELINES ("16 1"; only 1
# for a single client), RUNS (3, the median is printed),
# SHARDS (2), DIR (where the AOF directories go; default a temp dir in
# /tmp, so pass DIR=/some/disk to measure a real disk), REDIS_SERVER.
set -u

here=$(cd "$(dirname "$0")" && pwd)
titan=${1:-$here/../build/titan-supervisor}
case $titan in /*) ;; *) titan="$PWD/$titan" ;; esac
redis_server=${REDIS_SERVER:-/usr/bin/redis-server}
N=${N:-200000}
CLIENTS=${CLIENTS:-50 1}
PIPELINES=${PIPELINES:-16 1}
RUNS=${RUNS:-3}
SHARDS=${SHARDS:-2}
base=${DIR:-/tmp}

. "$here/lib/servers.sh"

[ -x "$titan" ] || die "no titan-supervisor at $titan (make all, or pass its path)"
[ -x "$redis_server" ] || die "no $redis_server (apt-get install redis-server)"
for t in redis-benchmark redis-cli python3; do
	command -v $t >/dev/null || die "$t not found (apt-get install redis-tools python3)"
done

tmp=$(mktemp -d "$base/titan-aofcmp-XXXXXX") || die "mktemp in $base"
pids=

# Stop what we started (servers.sh's stop_pid: SIGTERM, then SIGKILL
# if it lingers).
cleanup() {
	for p in $pids; do
		stop_pid "$p"
	done
	[ -z "${KEEP_TMP:-}" ] && rm -rf "$tmp"
}
trap cleanup EXIT

# start_redis NAME FSYNC: a stock redis-server with the AOF on.
start_redis() {
	port=$(free_port)
	mkdir -p "$tmp/$1"
	"$redis_server" --port "$port" --bind 127.0.0.1 --save '' \
		--appendonly yes --appendfsync "$2" --dir "$tmp/$1" \
		--logfile "$tmp/$1/redis.log" --daemonize no \
		--protected-mode no >/dev/null 2>&1 &
	pids="$pids $!"
	wait_ready "$port" $! "redis-server ($1)"
	eval "port_$1=$port"
}

# start_titan NAME APPENDONLY FSYNC
start_titan() {
	port=$(free_port)
	mkdir -p "$tmp/$1"
	cat >"$tmp/$1/titan.conf" <<-EOF
	port $port
	bind 127.0.0.1
	titan-port 0
	http-port 0
	save ""
	dir $tmp/$1
	logfile $tmp/$1/titan.log
	shards $SHARDS
	appendonly $2
	appendfsync $3
	EOF
	"$titan" -c "$tmp/$1/titan.conf" >"$tmp/$1/stdout" 2>&1 &
	pids="$pids $!"
	wait_ready "$port" $! "titan ($1)"
	eval "port_$1=$port"
}

# rps PORT C P N: SET requests per second of one redis-benchmark run.
rps() {
	redis-benchmark -p "$1" -t set -c "$2" -r 1000000 -n "$4" \
		-P "$3" --csv 2>>"$tmp/bench.err" |
		awk -F'","' 'NR > 1 && NF >= 2 { gsub(/"/, "", $2); print $2; exit }'
}

servers="redis_everysec redis_always titan_no titan_everysec titan_always"
start_redis redis_everysec everysec
start_redis redis_always always
start_titan titan_no no everysec
start_titan titan_everysec yes everysec
start_titan titan_always yes always

echo "aof-compare: redis-server $("$redis_server" --version |
	sed -E 's/.*v=([^ ]+).*/\1/') vs titan ($SHARDS shards), SET," \
	"clients $CLIENTS, N=$N at 50 clients (N/4 for always, fewer with" \
	"fewer clients), median of $RUNS, $(nproc) CPUs, AOF in $tmp," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# the rows: clients:pipeline, one pipeline for a single client
rows=
for c in $CLIENTS; do
	for p in $PIPELINES; do
		[ "$c" -gt 1 ] || [ "$p" = 1 ] || continue
		rows="$rows $c:$p"
	done
done

for row in $rows; do
	c=${row%:*}
	p=${row#*:}
	for s in $servers; do
		eval "res_${s}_${c}_$p="
	done
	r=0
	while [ $r -lt "$RUNS" ]; do
		# one run of each server in turn: a load change hits all alike
		for s in $servers; do
			n=$((N * c / 50))
			case $s in *always) n=$((n / 4)) ;; esac
			[ "$n" -ge 1000 ] || n=1000
			eval "port=\$port_$s"
			v=$(rps "$port" "$c" "$p" "$n")
			[ -n "$v" ] || die "redis-benchmark got nothing from $s (see $tmp/bench.err)"
			eval "res_${s}_${c}_$p=\"\$res_${s}_${c}_$p $v\""
			echo "  -c $c -P $p $s: $v" >&2
		done
		r=$((r + 1))
	done
done

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
printf '| SET | redis everysec | titan everysec | ratio | redis always | titan always | ratio | titan appendonly no | everysec/no |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for row in $rows; do
	c=${row%:*}
	p=${row#*:}
	for s in $servers; do
		eval "m_$s=\$(median \$res_${s}_${c}_$p)"
	done
	# shellcheck disable=SC2154 # set by the eval above
	awk -v c="$c" -v p="$p" -v re="$m_redis_everysec" \
		-v ra="$m_redis_always" -v tn="$m_titan_no" \
		-v te="$m_titan_everysec" -v ta="$m_titan_always" 'BEGIN {
		printf "| -c %s -P %s | %.0f | %.0f | %.2fx | %.0f | %.0f | %.2fx | %.0f | %.0f %% |\n",
			c, p, re, te, re ? te / re : 0, ra, ta, ra ? ta / ra : 0,
			tn, tn ? 100 * te / tn : 0 }'
done
