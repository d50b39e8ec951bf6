#!/bin/sh
# aof-load.sh [TITAN_SUPERVISOR] - time to load a large AOF directory:
# Titan next to a stock redis-server 7.0, each started on its own copy
# of the same Redis 7.0 multi-part directory, timed from start until the
# server answers PING (Redis answers -LOADING meanwhile).
#
# The directory is generated, not recorded: a manifest, an empty RESP
# base and one incremental file of about SIZE_MB megabytes of SET (a
# third with PXAT in the future), SADD and PEXPIREAT over KEYS keys, as
# Redis writes them.  With RDB=1 the base is an RDB preamble instead:
# redis-server loads the generated AOF, rewrites it (BGREWRITEAOF with
# aof-use-rdb-preamble yes), and both servers load that.
#
# Env: SIZE_MB (1024), KEYS (2000000), RUNS (3, the median is printed),
# SHARDS (2), DIR (where the directories go; default a temp dir in /tmp),
# REDIS_SERVER, RDB (0).
set -u

here=$(cd "$(dirname "$0")" && pwd)
titan=${1:-$here/../build/titan-supervisor}
case $titan in /*) ;; *) titan="$PWD/$titan" ;; esac
redis_server=${REDIS_SERVER:-/usr/bin/redis-server}
SIZE_MB=${SIZE_MB:-1024}
KEYS=${KEYS:-2000000}
RUNS=${RUNS:-3}
SHARDS=${SHARDS:-2}
RDB=${RDB:-0}
base=${DIR:-/tmp}

. "$here/lib/servers.sh"

[ -x "$titan" ] || die "no titan-supervisor at $titan (make all, or pass its path)"
[ -x "$redis_server" ] || die "no $redis_server (apt-get install redis-server)"
for t in redis-cli python3; do
	command -v $t >/dev/null || die "$t not found (apt-get install redis-tools python3)"
done

tmp=$(mktemp -d "$base/titan-aofload-XXXXXX") || die "mktemp in $base"
pid=

# Stop the server being timed, if any (servers.sh's stop_pid).
cleanup() {
	stop_pid "$pid"
	[ -z "${KEEP_TMP:-}" ] && rm -rf "$tmp"
}

# The generated directory: appendonly.aof.{1.base.aof,1.incr.aof,manifest}.
gen() { # DIR
	mkdir -p "$1"
	: >"$1/appendonly.aof.1.base.aof"
	printf 'file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n' \
		>"$1/appendonly.aof.manifest"
	python3 - "$1/appendonly.aof.1.incr.aof" "$SIZE_MB" "$KEYS" <<'EOF'
import random, sys, time
path, size_mb, nkeys = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
limit = size_mb << 20
rnd = random.Random(42)
far = int(time.time() * 1000) + 30 * 24 * 3600 * 1000

def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)

with open(path, "wb") as f:
    f.write(cmd(b"SELECT", b"0"))
    written = 0
    while written < limit:
        chunk = []
        for _ in range(20000):
            k = rnd.randrange(nkeys)
            r = rnd.random()
            if r < 0.6:
                v = b"value-%d-%s" % (k, b"x" * rnd.randrange(8, 64))
                if k % 3 == 0:
                    chunk.append(cmd(b"SET", b"key:%d" % k, v, b"PXAT",
                                     b"%d" % (far + k)))
                else:
                    chunk.append(cmd(b"SET", b"key:%d" % k, v))
            elif r < 0.9:
                chunk.append(cmd(b"SADD", b"set:%d" % (k % (nkeys // 8 + 1)),
                                 b"m%d" % rnd.randrange(64),
                                 b"m%d" % rnd.randrange(1000)))
            else:
                chunk.append(cmd(b"PEXPIREAT", b"key:%d" % k,
                                 b"%d" % (far + k)))
        buf = b"".join(chunk)
        f.write(buf)
        written += len(buf)
EOF
}

# time_start KIND DIR: "<seconds from the start until PING answers PONG>
# <keys loaded>".
time_start() {
	port=$(free_port)
	if [ "$1" = redis ]; then
		"$redis_server" --port "$port" --bind 127.0.0.1 --save '' \
			--appendonly yes --dir "$2" --logfile "$2/redis.log" \
			--protected-mode no --daemonize no >/dev/null 2>&1 &
		pid=$!
	else
		cat >"$2/titan.conf" <<-EOF
		port $port
		bind 127.0.0.1
		titan-port 0
		http-port 0
		save ""
		dir $2
		logfile $2/titan.log
		shards $SHARDS
		appendonly yes
		EOF
		"$titan" -c "$2/titan.conf" >"$2/stdout" 2>&1 &
		pid=$!
	fi
	t0=$(date +%s.%N)
	until [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; do
		kill -0 "$pid" 2>/dev/null || die "$1 died while loading (logs in $2)"
		sleep 0.02
	done
	t1=$(date +%s.%N)
	keys=$(redis-cli -p "$port" dbsize)
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null
	pid=
	echo "$t0 $t1 $keys" | awk '{ printf "%.2f %s\n", $2 - $1, $3 }'
}

echo "aof-load: generating ${SIZE_MB} MB over $KEYS keys in $tmp" >&2
gen "$tmp/src/appendonlydir"
if [ "$RDB" = 1 ]; then
	# let redis-server turn it into an RDB preamble base
	port=$(free_port)
	"$redis_server" --port "$port" --bind 127.0.0.1 --save '' \
		--appendonly yes --aof-use-rdb-preamble yes --dir "$tmp/src" \
		--logfile "$tmp/src/redis.log" --protected-mode no >/dev/null 2>&1 &
	pid=$!
	until [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; do
		kill -0 "$pid" 2>/dev/null || die "redis-server died (see $tmp/src/redis.log)"
		sleep 0.1
	done
	redis-cli -p "$port" bgrewriteaof >/dev/null
	until redis-cli -p "$port" info persistence | grep -q 'aof_rewrite_in_progress:0' &&
		redis-cli -p "$port" info persistence | grep -q 'aof_rewrite_scheduled:0' &&
		ls "$tmp/src/appendonlydir" | grep -q 'base.rdb'; do
		sleep 0.2
	done
	kill -TERM "$pid"
	wait "$pid"
	pid=
	rm -f "$tmp/src/redis.log"
fi
size=$(du -sm "$tmp/src/appendonlydir" | cut -f1)
echo "aof-load: $(ls "$tmp/src/appendonlydir" | tr '\n' ' ')($size MB)," \
	"$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

rt=
tt=
r=0
while [ $r -lt "$RUNS" ]; do
	for kind in redis titan; do
		rm -rf "$tmp/$kind"
		mkdir "$tmp/$kind"
		cp -r "$tmp/src/appendonlydir" "$tmp/$kind/"
		# the copy must not be read from the page cache of the write alone
		sync
		out=$(time_start $kind "$tmp/$kind") || exit 1
		s=${out% *}
		echo "  $kind: $s s (${out#* } keys)" >&2
		eval "${kind}_keys=${out#* }"
		if [ $kind = redis ]; then rt="$rt $s"; else tt="$tt $s"; fi
	done
	r=$((r + 1))
done
# shellcheck disable=SC2154 # set by the eval above
[ "$redis_keys" = "$titan_keys" ] ||
	die "the servers disagree on the key count: redis $redis_keys, titan $titan_keys"
mr=$(median $rt)
mt=$(median $tt)
printf '| load %s MB AOF (%s) | redis-server | titan | titan/redis |\n' "$size" \
	"$([ "$RDB" = 1 ] && echo "RDB preamble + incr" || echo "RESP")"
printf '|---|---:|---:|---:|\n'
awk -v r="$mr" -v t="$mt" -v k="$redis_keys" 'BEGIN {
	printf "| seconds to PONG (%d keys) | %.2f | %.2f | %.2fx |\n", k, r, t, r ? t / r : 0 }'
