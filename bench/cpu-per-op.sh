#!/bin/sh
# cpu-per-op.sh [TITAN_SUPERVISOR...] - what one SET costs the server:
# redis-benchmark SET against each Titan build given and a stock
# redis-server 7.0 with the same appendonly/appendfsync, in turn, and
# for each run the server's CPU time (user + system, every thread of
# Titan's shards and journal, or of redis-server) and its context
# switches, read from /proc before and after, divided by the SETs.
# Several builds make an A/B run: every column sees the same load.
#
# Env: N (SETs per run, 100000), CLIENTS (50), P (pipeline, 1), RUNS (3),
# SHARDS (2), APPENDONLY (yes), FSYNC (always), REDIS_SERVER, REDIS (1: run
# redis-server too; 0: Titan builds only).
set -u

here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- "$here/../build/titan-supervisor"
redis_server=${REDIS_SERVER:-/usr/bin/redis-server}
N=${N:-100000}
CLIENTS=${CLIENTS:-50}
P=${P:-1}
RUNS=${RUNS:-3}
SHARDS=${SHARDS:-2}
APPENDONLY=${APPENDONLY:-yes}
FSYNC=${FSYNC:-always}
REDIS=${REDIS:-1}

. "$here/lib/servers.sh"

for b in "$@"; do
	[ -x "$b" ] || die "no titan-supervisor at $b (make all, or pass its path)"
done
[ "$REDIS" = 0 ] || [ -x "$redis_server" ] || die "no $redis_server (apt-get install redis-server)"
command -v redis-benchmark >/dev/null || die "no redis-benchmark (apt-get install redis-tools)"
tmp=$(mktemp -d /tmp/titan-cpuop-XXXXXX) || die "mktemp"

# ticks and context switches of every thread of the processes PIDS...
usage() {
	for p in "$@"; do
		for t in /proc/"$p"/task/*; do
			awk '{ print $14 + $15 }' "$t/stat"
			awk '/ctxt_switches/ { n += $2 } END { print "cs", n }' "$t/status"
		done
	done | awk '$1 == "cs" { cs += $2; next } { ticks += $1 }
		END { print ticks, cs }'
}

# run_one NAME BINARY|redis: one line of results
run_one() {
	d="$tmp/$1"
	rm -rf "$d"
	mkdir -p "$d"
	port=$(free_port)
	if [ "$2" = redis ]; then
		"$redis_server" --port "$port" --bind 127.0.0.1 --save '' \
			--appendonly "$APPENDONLY" --appendfsync "$FSYNC" \
			--dir "$d" --logfile "$d/redis.log" --daemonize no \
			--protected-mode no >/dev/null 2>&1 &
		rpid=$!
		wait_ready "$port" "$rpid" redis-server
		pids=$rpid
	else
		cat >"$d/titan.conf" <<-EOF
		port $port
		bind 127.0.0.1
		titan-port 0
		http-port 0
		save ""
		dir $d
		logfile $d/titan.log
		shards $SHARDS
		appendonly $APPENDONLY
		appendfsync $FSYNC
		EOF
		"$2" -c "$d/titan.conf" >"$d/stdout" 2>&1 &
		tpid=$!
		wait_ready "$port" "$tpid" "titan ($1)"
		pids=$(pgrep -P "$tpid" -f 'titan: (shard|journal)' | tr '\n' ' ')
	fi
	# shellcheck disable=SC2086 # a list of pids
	before=$(usage $pids)
	rps=$(redis-benchmark -p "$port" -t set -n "$N" -c "$CLIENTS" -P "$P" \
		-r 1000000 --csv | awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2; exit }')
	# shellcheck disable=SC2086
	after=$(usage $pids)
	stop_pid "$rpid"
	stop_pid "$tpid"
	rpid=
	tpid=
	echo "$before $after" | awk -v name="$1" -v rps="$rps" -v n="$N" '{
		printf "%-10s %10.0f SET/s %8.2f us CPU/SET %6.2f switches/SET\n",
			name, rps, ($3 - $1) * 1e6 / 100 / n, ($4 - $2) / n }'
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average" \
	"$(cut -d' ' -f1-3 /proc/loadavg); SET -c $CLIENTS -P $P, N=$N," \
	"appendonly $APPENDONLY, appendfsync $FSYNC, titan shards $SHARDS"
r=0
while [ $r -lt "$RUNS" ]; do
	i=0
	for b in "$@"; do
		i=$((i + 1))
		run_one "titan$i" "$b"
	done
	[ "$REDIS" = 0 ] || run_one redis redis
	r=$((r + 1))
done
