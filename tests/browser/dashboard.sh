#!/bin/sh
# dashboard.sh BUILD - the web dashboard in a real browser: a supervisor
# with its scheduler and dashboard on free ports, one titan-worker, a DAG
# whose middle job prints a line every 200 ms; driver.py drives headless
# Chromium through it and saves screenshots (copied to BUILD/artifacts/).
set -u

. "$(dirname "$0")/../sh/lib/server.sh"

titan="$build/titan"
worker="$build/titan-worker"
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/titan-web-XXXXXX) || fail "mktemp"
wpid=

web_cleanup() {
	[ -n "$wpid" ] && kill -9 "$wpid" 2>/dev/null
	rm -rf "$tmp"
	cleanup
}
trap web_cleanup EXIT

[ -x "$titan" ] && [ -x "$worker" ] || fail "no $titan or $worker (build them first)"
[ -x /usr/bin/chromium ] || fail "no /usr/bin/chromium (scripts/deps.sh test installs it)"
/usr/bin/python3 -c 'import websocket' 2>/dev/null ||
	fail "no python3-websocket (scripts/deps.sh test installs it)"

tport=$(free_port) || fail "no free port"
hport=$(free_port) || fail "no free port"
dir=$(mktemp -d /tmp/titan-sh-XXXXXX) || fail "mktemp"
port=$(free_port) || fail "no free port"
cat >"$dir/titan.conf" <<CONF
port $port
bind 127.0.0.1
titan-port $tport
http-port $hport
dir $dir
logfile $dir/titan.log
shards 2
CONF
"$sup" -c "$dir/titan.conf" >"$dir/stdout" 2>&1 &
pid=$!
i=0
until "$titan" -p "$tport" workers >/dev/null 2>&1; do
	kill -0 "$pid" 2>/dev/null || fail "supervisor died at start: $(cat "$dir/stdout")"
	i=$((i + 1))
	[ $i -le 150 ] || fail "no scheduler on port $tport after 15 s"
	sleep 0.1
done
mkdir -p "$tmp/w"
"$worker" -p "$tport" --id webw1 --capacity 2 --workdir "$tmp/w" >"$tmp/worker.log" 2>&1 &
wpid=$!
i=0
until "$titan" -p "$tport" workers 2>/dev/null | grep -q 'webw1.* true '; do
	i=$((i + 1))
	[ $i -le 150 ] || fail "worker not alive after 15 s: $(cat "$tmp/worker.log")"
	sleep 0.1
done

cat >"$tmp/dag.yaml" <<YAML
name: web
project: false
jobs:
  - id: prepare
    command: "echo ready"
  - id: talk
    command: [/bin/sh, -c, 'i=1; while [ \$i -le 20 ]; do echo "line \$i"; i=\$((i + 1)); sleep 0.2; done']
    depends_on: [prepare]
  - id: side
    command: "echo side"
    depends_on: [prepare]
  - id: finish
    command: "echo done"
    depends_on: [talk, side]
YAML
/usr/bin/python3 "$here/driver.py" --url "http://127.0.0.1:$hport" \
	--submit "'$titan' -p $tport submit '$tmp/dag.yaml'" \
	--job DAG-talk --jobs 4 --worker webw1 --out "$tmp" || fail "browser checks failed"

mkdir -p "$build/artifacts"
for f in job dag overview; do
	cp "$tmp/$f.png" "$build/artifacts/dashboard-$f.png" || fail "copy $f.png"
	echo "artifact: $build/artifacts/dashboard-$f.png"
done
kill -TERM "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
wpid=
stop_server
echo "dashboard.sh: ok"
