#!/bin/sh
# repl_master.sh BUILD - a stock redis-server 7.0 replica follows a Titan
# master (appendonly no, then yes): same keys, values, members and TTLs
# after 100 000 mixed writes; INFO replication, ROLE and WAIT see it;
# CLIENT KILL TYPE replica gives a partial resync that catches up; an
# old-style SYNC gets an RDB that redis-check-rdb accepts;
# min-replicas-to-write refuses writes with NOREPLICAS.
set -u

. "$(dirname "$0")/lib/server.sh"

py="$(dirname "$0")/repl_master_check.py"
python=/usr/bin/python3
rpid=
rdir=
cleanup_repl() {
	[ -n "$rpid" ] && kill -9 "$rpid" 2>/dev/null
	[ -n "$rdir" ] && rm -rf "$rdir"
	cleanup
}
trap cleanup_repl EXIT

command -v redis-server >/dev/null || fail "redis-server not installed"
$python -c "import redis" 2>/dev/null || fail "$python has no redis module (apt-get install python3-redis)"

# start_titan EXTRA: start_server with the directives EXTRA.
start_titan() {
	extra_conf=$1
	start_server
}

# retry N CMD...: run CMD until it succeeds, at most N tenths of a second
retry() {
	n=$1
	shift
	i=0
	until "$@"; do
		i=$((i + 1))
		[ $i -le "$n" ] || return 1
		sleep 0.1
	done
}

tc() { redis-cli -p "$port" "$@"; }
rc() { redis-cli -p "$rport" "$@"; }

replica_online() {
	tc info replication | grep -q "^slave0:ip=127.0.0.1,port=$rport,state=online," &&
		[ "$(rc info replication | tr -d '\r' | sed -n 's/^master_link_status://p')" = up ]
}

run() {
	mode=$1
	start_titan "$2"
	# data before the replica: it comes with the snapshot
	tc set before-sync yes >/dev/null
	tc sadd before-set a b c >/dev/null

	rdir=$(mktemp -d /tmp/titan-replica-XXXXXX) || fail "mktemp"
	rport=$(free_port) || fail "no free port"
	redis-server --port "$rport" --bind 127.0.0.1 --dir "$rdir" --save '' \
		--appendonly no --replicaof 127.0.0.1 "$port" \
		--logfile "$rdir/redis.log" &
	rpid=$!
	retry 150 replica_online || fail "$mode: the replica never got online: $(tail -5 "$rdir/redis.log")"

	$python "$py" gen 100000 1 | redis-cli -p "$port" --pipe >"$dir/pipe.out" 2>&1 ||
		fail "$mode: redis-cli --pipe: $(cat "$dir/pipe.out")"
	grep -q "errors: 0, replies: 100000" "$dir/pipe.out" ||
		fail "$mode: pipe: $(cat "$dir/pipe.out")"
	out=$($python "$py" compare "$port" "$rport" 20 2>&1) ||
		fail "$mode: master and replica differ: $out"
	echo "$mode: $out"

	# the replica as the master sees it
	info=$(tc info replication | tr -d '\r')
	echo "$info" | grep -qx "connected_slaves:1" || fail "$mode: INFO: $info"
	echo "$info" | grep -qx "repl_backlog_active:1" || fail "$mode: INFO: $info"
	off=$(echo "$info" | sed -n 's/^master_repl_offset://p')
	[ "$off" -gt 100000 ] || fail "$mode: master_repl_offset $off"
	[ "$(tc wait 1 2000)" = 1 ] || fail "$mode: WAIT 1 2000 did not return 1"
	role=$(tc role | tr '\n' ' ')
	case $role in
	"master "*" 127.0.0.1 $rport "*) ;;
	*) fail "$mode: ROLE: $role" ;;
	esac
	[ "$(tc wait 2 100)" = 1 ] || fail "$mode: WAIT 2 100 did not return 1"

	# drop the link: the replica comes back with a partial resync
	[ "$(tc client kill type replica)" = 1 ] || fail "$mode: CLIENT KILL TYPE replica did not count 1"
	tc set after-kill 1 >/dev/null
	tc sadd after-kill-set x >/dev/null
	retry 150 grep -q "Successful partial resynchronization" "$rdir/redis.log" ||
		fail "$mode: no partial resync: $(tail -8 "$rdir/redis.log")"
	grep -q "Partial resynchronization request from .* accepted" "$dir/titan.log" ||
		fail "$mode: the master did not log the partial resync"
	$python "$py" gen 5000 2 | redis-cli -p "$port" --pipe >/dev/null 2>&1
	out=$($python "$py" compare "$port" "$rport" 20 2>&1) ||
		fail "$mode: differ after the partial resync: $out"
	echo "$mode: after CLIENT KILL: $out"

	# min-replicas-to-write: 2 good replicas needed, 1 attached
	tc config set min-replicas-to-write 2 >/dev/null
	r=$(tc set x 1)
	[ "$r" = "NOREPLICAS Not enough good replicas to write." ] ||
		fail "$mode: min-replicas-to-write 2: SET answered '$r'"
	tc config set min-replicas-to-write 1 >/dev/null
	[ "$(tc set x 1)" = OK ] || fail "$mode: min-replicas-to-write 1 refused"
	tc config set min-replicas-to-write 0 >/dev/null

	# SYNC, the old protocol: a sized RDB bulk
	$python "$py" sync "$port" "$dir/sync.rdb" || fail "$mode: SYNC"
	redis-check-rdb "$dir/sync.rdb" >"$dir/check.out" 2>&1 ||
		fail "$mode: redis-check-rdb refuses SYNC's RDB: $(tail -3 "$dir/check.out")"

	kill -9 "$rpid"
	rpid=
	rm -rf "$rdir"
	rdir=
	stop_server
	rm -rf "$dir"
	dir=
}

run "appendonly no" ""
run "appendonly yes" "appendonly yes"
echo "repl_master.sh: ok"
