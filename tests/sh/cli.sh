#!/bin/sh
# cli.sh BUILD - titan(1): usage errors exit 2, a refused connection exits
# 2 with the address, a bad DAG file exits 1 naming line and column; then
# against a real supervisor and two titan-workers: a YAML diamond runs in
# order, run -w follows output and exit codes, logs, status, cancel.
set -u

. "$(dirname "$0")/lib/server.sh"

titan="$build/titan"
worker="$build/titan-worker"
tmp=$(mktemp -d /tmp/titan-cli-XXXXXX) || fail "mktemp"
wpids=

cli_cleanup() {
	for w in $wpids; do kill -9 "$w" 2>/dev/null; done
	rm -rf "$tmp"
	cleanup
}
trap cli_cleanup EXIT

# check WANT_RC CMD...: run CMD, keep stdout in $out and stderr in $err.
check() {
	want=$1
	shift
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
	[ "$rc" -eq "$want" ] || fail "$*: exit $rc, want $want; out: $out; err: $err"
}

[ -x "$titan" ] || fail "no $titan (build it first)"

# --- without a server ---
check 0 "$titan" --help
echo "$out" | grep -q '^usage: titan' || fail "--help: $out"
check 2 "$titan"
check 2 "$titan" frobnicate
[ "$(echo "$err" | head -1)" = "titan: unknown command 'frobnicate'" ] || fail "unknown command: $err"
check 2 "$titan" -p 0 stats
check 2 "$titan" -p 70000 stats
check 2 "$titan" -p
check 2 "$titan" --bogus stats
check 2 "$titan" run
check 2 "$titan" run --retries x -- true
check 2 "$titan" run --env NOEQUALS -- true
check 2 "$titan" run --frob -- true
check 2 "$titan" logs
check 2 "$titan" cancel
check 2 "$titan" status a b
check 2 "$titan" submit

noport=$(free_port) || fail "no free port"
check 2 "$titan" -p "$noport" stats
[ "$err" = "titan: cannot connect to 127.0.0.1:$noport: Connection refused" ] ||
	fail "connection refused message: $err"
check 2 env TITAN_PORT="$noport" "$titan" workers
[ "$err" = "titan: cannot connect to 127.0.0.1:$noport: Connection refused" ] ||
	fail "TITAN_PORT: $err"

# a bad file is refused before any connection is made
printf 'name: x\njobs:\n  - id: a\n    command: true\n    colour: red\n' >"$tmp/bad.yaml"
check 1 "$titan" -p "$noport" submit "$tmp/bad.yaml"
case $err in
"titan: $tmp/bad.yaml:5:5: job a: unknown field 'colour'"*) ;;
*) fail "bad yaml: $err" ;;
esac
check 1 "$titan" -p "$noport" submit "$tmp/nosuch.yaml"
[ "$err" = "titan: cannot open $tmp/nosuch.yaml: No such file or directory" ] ||
	fail "missing yaml: $err"

if [ ! -x "$worker" ]; then
	echo "cli.sh: no $worker: end-to-end part skipped" >&2
	exit 0
fi

# --- a supervisor with its scheduler on a free port, two workers ---
tport=$(free_port) || fail "no free port"
start_server "$tport"
for n in 1 2; do
	mkdir -p "$tmp/w$n"
	"$worker" -p "$tport" --id "w$n" --capacity 2 --workdir "$tmp/w$n" \
		>"$tmp/w$n.log" 2>&1 &
	wpids="$wpids $!"
done
two_alive() {
	[ "$("$titan" -p "$tport" workers 2>/dev/null | grep -c ' true ')" -eq 2 ]
}
poll "2 workers not alive" two_alive

T() { "$titan" -p "$tport" "$@"; }

# the diamond: a, then b (a file: step) and c, then d
printf 'echo b >>"$1/order"\n' >"$tmp/b.sh"
cat >"$tmp/diamond.yaml" <<EOF
name: diamond
project: false
jobs:
  - id: a
    command: "echo a >>$tmp/order; echo out-a"
  - id: b
    file: b.sh
    args: $tmp
    depends_on: [a]
  - id: c
    command: [/bin/sh, -c, 'echo c >>"\$DIR/order"']
    env: {DIR: $tmp}
    depends_on: [a]
  - id: d
    command: [/bin/sh, -c, "echo d >>$tmp/order"]
    depends_on: [b, c]
EOF
check 0 T submit "$tmp/diamond.yaml"
dag=$out
case $dag in D-????????????) ;; *) fail "submit printed '$dag'" ;; esac
check 0 timeout 60 "$titan" -p "$tport" status "$dag" -w
echo "$out" | grep -q "^DAG $dag  COMPLETED" || fail "status -w: $out"
[ "$(head -1 "$tmp/order")" = a ] || fail "order: $(cat "$tmp/order")"
[ "$(tail -1 "$tmp/order")" = d ] || fail "order: $(cat "$tmp/order")"
[ "$(sort "$tmp/order" | tr -d '\n')" = abcd ] || fail "order: $(cat "$tmp/order")"
check 0 T status "$dag" --json
case $out in "{"*"\"COMPLETED\""*) ;; *) fail "status --json: $out" ;; esac
check 0 T status
echo "$out" | grep -q "^$dag *COMPLETED *4 " || fail "dag list: $out"
check 0 T logs DAG-a
[ "$out" = out-a ] || fail "logs DAG-a: '$out'"

# the server's validation: a cycle is refused with its reason
printf 'jobs:\n  - {id: x, command: true, depends_on: [y]}\n  - {id: y, command: true, depends_on: [x]}\n' >"$tmp/cycle.yaml"
check 1 T submit "$tmp/cycle.yaml"
case $err in "titan: $tmp/cycle.yaml: ERROR: cycle"*) ;; *) fail "cycle: $err" ;; esac

# run -w: output as it comes, exit status from the job
check 0 timeout 60 "$titan" -p "$tport" run -w -- /bin/sh -c 'echo hello; echo world'
id=$(echo "$out" | head -1)
case $id in RUN-????????????????) ;; *) fail "run printed '$id'" ;; esac
[ "$(echo "$out" | tail -n +2)" = "hello
world" ] || fail "run -w output: $out"
check 0 T logs "$id"
[ "$out" = "hello
world" ] || fail "logs: '$out'"
check 0 T status "$id"
echo "$out" | grep -q '^state *COMPLETED$' || fail "status job: $out"
check 1 timeout 60 "$titan" -p "$tport" run -w --retries 0 -- /bin/sh -c 'exit 3'
echo "$err" | grep -q 'exit code 3' || fail "exit 3: $err"
check 1 timeout 60 "$titan" -p "$tport" run -w --retries 0 --timeout 0.3 -- sleep 30
check 0 T run --env K=v --cwd /tmp -- /bin/sh -c 'echo "$K $(pwd)"'
id=$out
check 0 timeout 60 "$titan" -p "$tport" logs -f "$id"
[ "$out" = "v /tmp" ] || fail "env/cwd: '$out'"

# not found, cancel
check 1 T status RUN-0000000000000000
check 1 T cancel nosuchjob
[ "$out" = NOT_FOUND ] || fail "cancel: $out"
check 0 T run --retries 0 -- sleep 30
id=$out
check 0 T cancel "$id"
[ "$out" = CANCELLED ] || fail "cancel running: $out"

check 0 T stats
echo "$out" | grep -q '^active workers' || fail "stats: $out"
check 0 T stats --json
case $out in "{"*) ;; *) fail "stats --json: $out" ;; esac
check 0 T --json workers
case $out in "["*) ;; *) fail "workers --json: $out" ;; esac

for w in $wpids; do kill -TERM "$w" 2>/dev/null; done
stop_server
echo "cli.sh: ok"
