#!/bin/sh
# redis-compare.sh [TITAN_SUPERVISOR] - Titan against Debian's redis-server
# on this machine: the same redis-benchmark matrix on both (best of two
# runs), then the memory each needs per key.  See bench/README.md.
set -u

here=$(cd "$(dirname "$0")" && pwd)
titan=${1:-$here/../build/titan-supervisor}
case $titan in /*) ;; *) titan="$PWD/$titan" ;; esac
redis_server=${REDIS_SERVER:-/usr/bin/redis-server}
N=${N:-200000}
CLIENTS=${CLIENTS:-50}
KEYS=${KEYS:-1000000}
TESTS=${TESTS:-set,get,incr,sadd,spop,mset}
PIPELINES=${PIPELINES:-1 16}
RUNS=${RUNS:-2}
SHARDS=${SHARDS:-$(nproc)}
out_dir=$here/out

tmp_prefix=titan-bench
. "$here/lib/servers.sh"

[ -x "$titan" ] || die "no titan-supervisor at $titan (make all, or pass its path)"
[ -x "$redis_server" ] || die "no $redis_server (apt-get install redis-server)"
for t in redis-benchmark redis-cli python3; do
	command -v $t >/dev/null || die "$t not found (apt-get install redis-tools python3)"
done

start_servers

# bench PORT P: "test<TAB>rps<TAB>p50" per test, from --csv.  One run
# per test: redis-benchmark stops at a test's first error reply, and a
# command Titan lacks must not hide the tests after it.
bench() {
	for t in $(echo "$TESTS" | tr ',' ' '); do
		redis-benchmark -p "$1" -t "$t" -c "$CLIENTS" -r 1000000 \
			-n "$N" -P "$2" --csv 2>>"$tmp/bench.err" |
			awk -F'","' 'NR > 1 && NF >= 5 {
				gsub(/"/, "", $1); gsub(/"/, "", $2)
				gsub(/"/, "", $5)
				printf "%s\t%s\t%s\n", $1, $2, $5 }'
	done
}

# best FILE...: per test, the run with the most requests per second.
best() {
	awk -F'\t' '{ if (!($1 in rps) || $2 + 0 > rps[$1] + 0) {
			rps[$1] = $2; p50[$1] = $3 }
		      if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } }
		END { for (i = 0; i < n; i++)
			printf "%s\t%s\t%s\n", order[i], rps[order[i]], p50[order[i]] }' "$@"
}

echo "redis-compare: redis-server $("$redis_server" --version | sed -E 's/.*v=([^ ]+).*/\1/') on $rport," \
	"titan ($SHARDS shards) on $tport; N=$N, $CLIENTS clients, $(nproc) CPUs" >&2

# Memory first, on fresh servers: after a FLUSHALL Titan's segment keeps
# its pages resident, and an RSS delta would read as zero.
# KEYS string keys through a pipelined loader, per server.
gen_keys() {
	python3 -c '
import sys
n = int(sys.argv[1])
w = sys.stdout.buffer
for lo in range(0, n, 10000):
    w.write(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nval\r\n"
                     % (len(k), k) for k in (b"key:%d" % i
                                             for i in range(lo, min(n, lo + 10000)))))
' "$KEYS"
}

info_field() { # PORT FIELD
	redis-cli -p "$1" info memory | tr -d '\r' | sed -n "s/^$2://p"
}

memory() { # PORT NAME -> "bytes/key rss/key"
	redis-cli -p "$1" flushall >/dev/null
	u0=$(info_field "$1" used_memory)
	r0=$(info_field "$1" used_memory_rss)
	gen_keys | redis-cli -p "$1" --pipe >"$tmp/pipe.$2" 2>&1 ||
		die "$2: loading keys failed: $(tail -3 "$tmp/pipe.$2")"
	got=$(redis-cli -p "$1" dbsize)
	[ "$got" = "$KEYS" ] || die "$2: dbsize $got after loading $KEYS keys"
	u1=$(info_field "$1" used_memory)
	r1=$(info_field "$1" used_memory_rss)
	awk -v u0="$u0" -v u1="$u1" -v r0="$r0" -v r1="$r1" -v n="$KEYS" \
		'BEGIN { printf "%.1f %.1f\n", (u1 - u0) / n, (r1 - r0) / n }'
}

echo "redis-compare: loading $KEYS keys into each" >&2
# (die inside $(...) only leaves the subshell: check what came back)
set -- $(memory "$rport" redis)
[ $# -eq 2 ] || die "redis-server: memory measurement failed"
rmem=$1 rrss=$2
set -- $(memory "$tport" titan)
[ $# -eq 2 ] || die "titan: memory measurement failed"
tmem=$1 trss=$2
redis-cli -p "$rport" flushall >/dev/null
redis-cli -p "$tport" flushall >/dev/null

table=$tmp/table.txt
{
	printf '%-16s %3s %12s %12s %7s %10s %10s\n' test P redis titan ratio \
		"redis p50" "titan p50"
	for p in $PIPELINES; do
		: >"$tmp/r.$p"
		: >"$tmp/t.$p"
		run=1
		while [ $run -le "$RUNS" ]; do
			echo "redis-compare: P=$p run $run/$RUNS" >&2
			# alternate, so drift on a busy machine hits both
			bench "$rport" "$p" >>"$tmp/r.$p"
			bench "$tport" "$p" >>"$tmp/t.$p"
			run=$((run + 1))
		done
		best "$tmp/r.$p" >"$tmp/rb.$p"
		best "$tmp/t.$p" >"$tmp/tb.$p"
		awk -F'\t' -v p="$p" '
			FNR == NR { trps[$1] = $2; tp50[$1] = $3; next }
			{ t = ($1 in trps) ? sprintf("%.0f", trps[$1]) : "-"
			  ratio = "-"
			  if (($1 in trps) && $2 + 0 > 0)
				ratio = sprintf("%.2f", trps[$1] / $2)
			  printf "%-16s %3s %12.0f %12s %7s %10s %10s\n", $1, p,
				$2, t, ratio, $3, ($1 in tp50) ? tp50[$1] : "-" }' \
			"$tmp/tb.$p" "$tmp/rb.$p"
	done
} >"$table"
{
	echo
	printf '%-28s %12s %12s %7s\n' "memory ($KEYS keys)" redis titan ratio
	awk -v r="$rmem" -v t="$tmem" 'BEGIN { printf "%-28s %12.1f %12.1f %7.2f\n",
		"used_memory delta / key", r, t, (r > 0) ? t / r : 0 }'
	awk -v r="$rrss" -v t="$trss" 'BEGIN { printf "%-28s %12.1f %12.1f %7.2f\n",
		"rss delta / key", r, t, (r > 0) ? t / r : 0 }'
} >>"$table"

if [ -s "$tmp/bench.err" ]; then
	echo "redis-compare: redis-benchmark complained:" >&2
	sort -u "$tmp/bench.err" | head -10 >&2
fi
mkdir -p "$out_dir"
{
	echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC') $(uname -nr), $(nproc) CPUs;" \
		"N=$N clients=$CLIENTS titan shards=$SHARDS runs=$RUNS"
	cat "$table"
} >"$out_dir/last.txt"
cat "$out_dir/last.txt"
