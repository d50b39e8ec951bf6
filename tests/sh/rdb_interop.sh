#!/bin/sh
# rdb_interop.sh BUILD - RDB files both ways with Debian's Redis 7.0:
# Titan's SAVE passes redis-check-rdb and a stock redis-server loads it
# with the same keys, members and TTLs; a stock redis-server's dump.rdb
# loads into Titan; titan-check finds a flipped byte and a cut tail, and
# `--fix -y` repairs a torn AOF tail.
set -u

. "$(dirname "$0")/lib/server.sh"

check="$build/titan-check"
rpid=
rdir=
cleanup_redis() {
	[ -n "$rpid" ] && kill -9 "$rpid" 2>/dev/null
	[ -n "$rdir" ] && rm -rf "$rdir"
	cleanup
}
trap cleanup_redis EXIT

command -v redis-server >/dev/null || fail "redis-server not installed"
command -v redis-check-rdb >/dev/null || fail "redis-check-rdb not installed"
[ -x "$check" ] || fail "no $check"

# start_redis DIR: a stock redis-server on that dir's dump.rdb.
start_redis() {
	rport=$(free_port) || fail "no free port"
	redis-server --port "$rport" --bind 127.0.0.1 --dir "$1" \
		--dbfilename dump.rdb --save '' --appendonly no \
		--logfile "$1/redis.log" &
	rpid=$!
	i=0
	until [ "$(redis-cli -p "$rport" ping 2>/dev/null)" = PONG ]; do
		kill -0 "$rpid" 2>/dev/null || fail "redis-server died: $(tail -5 "$1/redis.log")"
		i=$((i + 1))
		[ $i -le 100 ] || fail "redis-server not ready"
		sleep 0.1
	done
}

stop_redis() {
	kill "$rpid"
	wait "$rpid" 2>/dev/null
	rpid=
}

# dump PORT: every key with its type, sorted value and TTL bucket (PTTL
# rounded down to 100 s, so both sides agree after the copy).
dump() {
	for k in $(redis-cli -p "$1" --raw keys '*' | sort); do
		t=$(redis-cli -p "$1" type "$k")
		case $t in
		string) v=$(redis-cli -p "$1" get "$k" | md5sum) ;;
		set) v=$(redis-cli -p "$1" smembers "$k" | sort | md5sum) ;;
		*) v=? ;;
		esac
		ttl=$(redis-cli -p "$1" pttl "$k")
		[ "$ttl" -gt 0 ] && ttl=$((ttl / 100000))
		echo "$k $t $v $ttl"
	done
}

fill() {
	r="redis-cli -p $1"
	$r set str hello >/dev/null
	$r set num 1234567 >/dev/null
	$r set neg -42 >/dev/null
	$r set zero 007 >/dev/null
	$r set big "$(python3 -c 'print("abcdefgh" * 400)')" >/dev/null
	$r set ttl v px 900000 >/dev/null
	$r sadd ints 1 2 3 -9 65536 9000000000 >/dev/null
	$r sadd words apple pear 12 >/dev/null
	$r expire words 800 >/dev/null
	$r sadd many $(seq 1 600) >/dev/null
}

# --- Titan writes, redis-check-rdb and redis-server read --------------
start_server
fill "$port"
[ "$(redis-cli -p "$port" save)" = OK ] || fail "SAVE"
out=$(redis-check-rdb "$dir/dump.rdb" 2>&1) || fail "redis-check-rdb: $out"
echo "$out" | grep -q 'RDB looks OK' || fail "redis-check-rdb: $out"
echo "$out" | grep -q '9 keys read' || fail "redis-check-rdb key count: $out"
titan_view=$(dump "$port")

rdir=$(mktemp -d /tmp/titan-redis-XXXXXX) || fail mktemp
cp "$dir/dump.rdb" "$rdir/dump.rdb"
start_redis "$rdir"
redis_view=$(dump "$rport")
[ "$titan_view" = "$redis_view" ] ||
	fail "redis-server sees other data: titan:
$titan_view
redis:
$redis_view"
[ "$(redis-cli -p "$rport" object encoding ints)" = intset ] ||
	fail "ints is not an intset in redis"

# --- redis-server writes, Titan reads ---------------------------------
redis-cli -p "$rport" flushall >/dev/null
fill "$rport"
redis-cli -p "$rport" set gone x px 200 >/dev/null
[ "$(redis-cli -p "$rport" save)" = OK ] || fail "redis SAVE"
redis_view=$(dump "$rport" | grep -v '^gone ')
stop_redis
stop_server
# a fresh Titan with that dump.rdb in its dir
sleep 0.3 # let "gone" expire on the clock: it must not be loaded
olddir=$dir
dir=$(mktemp -d /tmp/titan-sh-XXXXXX) || fail mktemp
sed "s|$olddir|$dir|g" "$olddir/titan.conf" >"$dir/titan.conf"
echo "appendonly no" >>"$dir/titan.conf"
rm -rf "$olddir"
cp "$rdir/dump.rdb" "$dir/dump.rdb"
"$sup" -c "$dir/titan.conf" >"$dir/stdout" 2>&1 &
pid=$!
i=0
until [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; do
	kill -0 "$pid" 2>/dev/null || fail "Titan refused redis' dump: $(tail -5 "$dir/titan.log")"
	i=$((i + 1))
	[ $i -le 150 ] || fail "Titan not ready"
	sleep 0.1
done
titan_view=$(dump "$port")
[ "$titan_view" = "$redis_view" ] ||
	fail "Titan loaded other data: redis:
$redis_view
titan:
$titan_view"
stop_server

# --- titan-check -------------------------------------------------------
cp "$rdir/dump.rdb" "$rdir/ok.rdb"
out=$("$check" "$rdir/ok.rdb") || fail "titan-check on a sound file: $out"
size=$(stat -c %s "$rdir/ok.rdb")
# a flipped byte in the middle
cp "$rdir/ok.rdb" "$rdir/flip.rdb"
printf '\377' | dd of="$rdir/flip.rdb" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
out=$("$check" "$rdir/flip.rdb")
[ $? -eq 1 ] || fail "titan-check accepted a flipped byte: $out"
echo "$out" | grep -q 'offset [0-9]*:' || fail "no offset in: $out"
# a cut tail
head -c $((size - 30)) "$rdir/ok.rdb" >"$rdir/cut.rdb"
out=$("$check" "$rdir/cut.rdb")
[ $? -eq 1 ] || fail "titan-check accepted a cut file: $out"
echo "$out" | grep -q 'truncated' || fail "cut file: $out"
"$check" --fix -y "$rdir/cut.rdb" >/dev/null && fail "--fix claimed to fix an RDB"
"$check" >/dev/null 2>&1
[ $? -eq 2 ] || fail "no arguments is not a usage error"

# a torn AOF tail: --fix -y cuts it, then the directory is sound
aof="$rdir/appendonlydir"
mkdir "$aof"
printf 'file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n' \
	>"$aof/appendonly.aof.manifest"
cp "$rdir/ok.rdb" "$aof/appendonly.aof.1.base.rdb"
printf '*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$2\r\nd' \
	>"$aof/appendonly.aof.1.incr.aof"
out=$("$check" "$aof")
[ $? -eq 1 ] || fail "torn tail not reported: $out"
echo "$out" | grep -q 'incr.aof: offset 27:' || fail "torn tail: $out"
out=$(echo n | "$check" --fix "$aof")
[ $? -eq 1 ] || fail "--fix without yes fixed anyway: $out"
out=$("$check" --fix -y "$aof") || fail "--fix -y: $out"
[ "$(stat -c %s "$aof/appendonly.aof.1.incr.aof")" = 27 ] || fail "not cut at 27"
out=$("$check" "$aof") || fail "still damaged after --fix: $out"
redis-check-aof "$aof/appendonly.aof.manifest" >/dev/null 2>&1 ||
	fail "redis-check-aof disagrees after the fix"
# damage in the middle of a file is not "fixed"
printf 'garbage\r\n' >>"$aof/appendonly.aof.1.incr.aof"
printf '*1\r\n$4\r\nPING\r\n' >>"$aof/appendonly.aof.1.incr.aof"
"$check" --fix -y "$aof" >/dev/null && fail "--fix accepted mid-file damage"

echo "rdb_interop: OK"
