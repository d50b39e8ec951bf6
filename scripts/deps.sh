#!/bin/sh
# Install the Debian packages Titan needs, only those missing.
#   deps.sh run    what `make run` needs (build + run)
#   deps.sh test   what `make test` needs (also test clients, redis-server)
set -e
build="gcc make pkg-config liburing-dev libbsd-dev libyaml-dev"
test="$build libcriterion-dev libhiredis-dev redis-tools redis-server mandoc python3-redis clang chromium python3-websocket"
case "${1:-run}" in
run) want=$build ;;
test) want=$test ;;
*) echo "usage: $0 run|test" >&2; exit 2 ;;
esac
missing=
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
sudo=
[ "$(id -u)" -ne 0 ] && sudo=sudo
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
