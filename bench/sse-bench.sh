#!/bin/sh
# sse-bench.sh BUILD [N] [LINES] - one scheduler, one titan-worker, one
# job printing LINES lines; N event-stream clients on its output (default
# 1000) must each receive every line.  Not part of `make test`.
set -u
build=${1:-build}
n=${2:-1000}
lines=${3:-500}
case $build in /*) ;; *) build="$PWD/$build" ;; esac
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/titan-ssebench-XXXXXX)
pid= wpid=
trap '[ -n "$wpid" ] && kill -9 $wpid; [ -n "$pid" ] && kill -9 $pid; rm -rf "$tmp"' EXIT
# The scheduler holds one fd per client.
ulimit -n 8192 2>/dev/null || ulimit -n 4096 || true
cc -O2 -Wall -Wextra -Werror -o "$tmp/sse-bench" "$here/sse-bench.c" || exit 1
fp() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(fp) tport=$(fp) hport=$(fp)
cat >"$tmp/titan.conf" <<CONF
port $port
bind 127.0.0.1
titan-port $tport
http-port $hport
save ""
dir $tmp
logfile $tmp/titan.log
shards 2
CONF
"$build/titan-supervisor" -c "$tmp/titan.conf" >"$tmp/stdout" 2>&1 &
pid=$!
i=0
until "$build/titan" -p "$tport" workers >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -le 150 ] || { echo "no scheduler" >&2; exit 1; }
	sleep 0.1
done
"$build/titan-worker" -p "$tport" --id bench --workdir "$tmp" >"$tmp/w.log" 2>&1 &
wpid=$!
i=0
until "$build/titan" -p "$tport" workers 2>/dev/null | grep -q ' true '; do
	i=$((i + 1)); [ $i -le 150 ] || { echo "no worker" >&2; exit 1; }
	sleep 0.1
done
# A pause first so that most lines reach the clients live.
job=$("$build/titan" -p "$tport" run --retries 0 -- /bin/sh -c \
	"sleep 3; i=1; while [ \$i -le $lines ]; do echo \"line \$i\"; i=\$((i + 1)); sleep 0.005; done")
echo "job $job, $n clients, $lines lines"
"$tmp/sse-bench" "$hport" "$job" "$n" "$lines"
rc=$?
grep -i 'dropping' "$tmp/titan.log" | head -3
exit $rc
