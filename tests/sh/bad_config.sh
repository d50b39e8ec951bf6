#!/bin/sh
# bad_config.sh BUILD - a bad titan.conf stops titan-supervisor at once,
# with exit 1 and "file:line:" in the message; -t and -v behave.
set -u

build=${1:-build}
case $build in /*) ;; *) build="$PWD/$build" ;; esac
sup="$build/titan-supervisor"
failed=0
dir=$(mktemp -d /tmp/titan-sh-XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT

[ -x "$sup" ] || { echo "bad_config.sh: FAIL: no $sup" >&2; exit 1; }

fail() {
	echo "bad_config.sh: FAIL: $*" >&2
	failed=1
}

# bad NAME WANT_IN_MESSAGE CONTENT: the file must be refused.
bad() {
	name=$1 want=$2
	printf '%b' "$3" >"$dir/$name.conf"
	# bounded: a config that is wrongly accepted would start a server
	out=$(cd "$dir" && timeout 10 "$sup" -c "$name.conf" 2>&1)
	rc=$?
	[ $rc -eq 1 ] || fail "$name: exit $rc, want 1 (output: $out)"
	case $out in
	*"$want"*) ;;
	*) fail "$name: message '$out' lacks '$want'" ;;
	esac
}

p=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

bad unknown "unknown.conf:2:" "port $p\nnosuchdirective 1\n"
bad badvalue "badvalue.conf:3:" "port $p\n\nmaxmemory lots\n"
bad badport "badport.conf:1:" "port notanumber\n"
bad badenum "badenum.conf:2:" "# comment\nloglevel loud\n"
bad arity "arity.conf:1:" "port 1 2\n"
bad arity0 "arity0.conf:2:" "port $p\nbind\n"
bad include "include.conf:3:" "port $p\n\ninclude $dir/nonexistent.conf\n"
bad include_path "$dir/nonexistent.conf" "include $dir/nonexistent.conf\n"
mkdir -p "$dir/sub"
printf 'port %s\nbogus x\n' "$p" >"$dir/sub/inner.conf"
bad nested "inner.conf:2:" "include sub/inner.conf\n"

# a missing file: the path is in the message
out=$(timeout 10 "$sup" -c "$dir/missing.conf" 2>&1)
rc=$?
[ $rc -eq 1 ] || fail "missing file: exit $rc, want 1"
case $out in
*"$dir/missing.conf"*) ;;
*) fail "missing file: message '$out' lacks the path" ;;
esac

# -t on a good file: exit 0 and no server started
printf 'port %s\nbind 127.0.0.1\ndir %s\nshards 2\n' "$p" "$dir" >"$dir/good.conf"
out=$(timeout 10 "$sup" -t -c "$dir/good.conf" 2>&1)
rc=$?
[ $rc -eq 0 ] || fail "-t on a good file: exit $rc ($out)"
case $out in
*successful*) ;;
*) fail "-t on a good file said '$out'" ;;
esac
# -t on a bad file: exit 1
out=$(cd "$dir" && timeout 10 "$sup" -t -c unknown.conf 2>&1)
[ $? -eq 1 ] || fail "-t on a bad file did not exit 1 ($out)"

out=$(timeout 10 "$sup" -v 2>&1)
rc=$?
[ $rc -eq 0 ] || fail "-v: exit $rc"
echo "$out" | grep -Eq '^titan-supervisor v=[0-9]+\.[0-9]+\.[0-9]+' ||
	fail "-v printed '$out'"

[ $failed -eq 0 ] || exit 1
echo "bad_config.sh: ok"
