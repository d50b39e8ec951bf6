#!/bin/sh
# aof_enospc.sh - the AOF on a full disk (a 2 MB tmpfs): writes get
# -MISCONF while reads go on; once space is freed the journal resumes by
# itself, writes are accepted again, and after a restart every write
# that was acknowledged is there.  Exit 77 (skipped) where mounting a
# tmpfs is not permitted.  No save points: a snapshot at shutdown would
# need room the AOF test does not leave.
. "$(dirname "$0")/lib/server.sh"

dir=$(mktemp -d /tmp/titan-sh-XXXXXX) || fail "mktemp"
mnt="$dir/data"
mkdir "$mnt"
if ! mount -t tmpfs -o size=2m tmpfs "$mnt" 2>"$dir/mount.err"; then
	echo "aof_enospc.sh: SKIPPED: cannot mount a tmpfs here: $(cat "$dir/mount.err")"
	rm -rf "$dir"
	dir=
	exit 77
fi
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	umount "$mnt" 2>/dev/null
	rm -rf "$dir"
}

port=$(free_port) || fail "no free port"
cat >"$dir/titan.conf" <<EOF
port $port
bind 127.0.0.1
titan-port 0
http-port 0
dir $mnt
logfile $dir/titan.log
shards 2
appendonly yes
appendfsync always
auto-aof-rewrite-percentage 0
save ""
EOF

start() {
	"$sup" -c "$dir/titan.conf" >"$dir/stdout" 2>&1 &
	pid=$!
	poll "no PONG on port $port" pong "$port"
}

cli() {
	redis-cli -p "$port" "$@" 2>&1
}

# room to give back later, then the AOF fills the rest
head -c 700000 /dev/zero >"$mnt/filler" || fail "cannot write the filler"
head -c 64000 /dev/urandom | base64 -w0 | head -c 64000 >"$dir/value"
start

: >"$dir/acked"
n=0
while [ $n -lt 400 ]; do
	out=$(timeout 2 redis-cli -p "$port" -x set "k$n" <"$dir/value" 2>&1)
	case $out in
	OK) echo "k$n" >>"$dir/acked" ;;
	*) break ;; # held (the disk is full) or refused
	esac
	n=$((n + 1))
done
[ $n -lt 400 ] || fail "the 2 MB disk never filled"
[ -s "$dir/acked" ] || fail "no write was acknowledged before the disk filled"

# writes are refused with Redis' wording, reads keep working
i=0
until cli set probe 1 | grep -q "MISCONF Errors writing to the AOF file: No space left on device"; do
	i=$((i + 1))
	[ $i -le 50 ] || fail "no MISCONF on a full disk: $(cli set probe 1)"
	sleep 0.1
done
[ "$(cli strlen k0)" = 64000 ] || fail "a read failed on a full disk: $(cli strlen k0)"
cli info persistence | grep -q "aof_last_write_status:err" ||
	fail "INFO does not show aof_last_write_status:err"
grep -q "Error writing to the AOF file.*No space left on device" "$dir/titan.log" ||
	fail "the journal logged no write error"

# room again: the journal retries every second and resumes by itself
rm -f "$mnt/filler"
i=0
until [ "$(cli set after ok)" = OK ]; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "writes still refused after space was freed: $(cli set after ok)"
	sleep 0.1
done
cli info persistence | grep -q "aof_last_write_status:ok" ||
	fail "INFO still shows a write error"
grep -q "AOF write error looks solved" "$dir/titan.log" ||
	fail "the journal did not log its recovery"

stop_server
start
missing=0
while read -r k; do
	[ "$(cli strlen "$k")" = 64000 ] || missing=$((missing + 1))
done <"$dir/acked"
[ $missing -eq 0 ] || fail "$missing of $(wc -l <"$dir/acked") acknowledged writes lost"
[ "$(cli get after)" = ok ] || fail "the write after recovery is lost"
stop_server
echo "aof_enospc.sh: ok ($(wc -l <"$dir/acked") writes acknowledged before the disk filled, all kept)"
