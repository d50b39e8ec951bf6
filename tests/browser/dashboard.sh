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
start_server "$tport" "$hport"
mkdir -p "$tmp/w"
"$worker" -p "$tport" --id webw1 --capacity 2 --workdir "$tmp/w" >"$tmp/worker.log" 2>&1 &
wpid=$!
worker_alive() {
	"$titan" -p "$tport" workers 2>/dev/null | grep -q "$1.* true "
}
poll "worker webw1 not alive (log $tmp/worker.log)" worker_alive webw1

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
