"""redis_py_check.py PORT - what an application does through redis-py.

Run by redis_py.sh with Debian's /usr/bin/python3 and python3-redis.
Every check runs; the failures are listed and the exit status is 1.
"""
import sys
import time

import redis

port = int(sys.argv[1])
failures = []


def check(name, got, want):
    if got != want:
        failures.append("%s: got %r, want %r" % (name, got, want))


def check_true(name, cond, detail=""):
    if not cond:
        failures.append("%s: %s" % (name, detail or "false"))


def run(name, fn):
    try:
        fn()
    except Exception as e:  # one broken command must not hide the others
        failures.append("%s: %s: %s" % (name, type(e).__name__, e))


r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True,
                socket_timeout=10)


def basics():
    check("ping", r.ping(), True)
    check("set", r.set("foo", "bar"), True)
    check("get", r.get("foo"), "bar")
    check("get missing", r.get("nosuch"), None)
    check("set nx on existing", r.set("foo", "x", nx=True), None)
    check("exists", r.exists("foo", "nosuch"), 1)
    check("type", r.type("foo"), "string")
    check("delete", r.delete("foo", "nosuch"), 1)
    check("binary value",
          redis.Redis(host="127.0.0.1", port=port).set("bin", b"\x00\xff\r\n"),
          True)
    check("binary get",
          redis.Redis(host="127.0.0.1", port=port).get("bin"), b"\x00\xff\r\n")


def counters():
    r.delete("n")
    check("incr", r.incr("n"), 1)
    check("incrby", r.incr("n", 5), 6)
    check("decr", r.decr("n"), 5)
    r.set("notnum", "abc")
    try:
        r.incr("notnum")
        failures.append("incr on a string: no error")
    except redis.ResponseError as e:
        check("incr error", str(e), "value is not an integer or out of range")


def sets():
    r.delete("s")
    check("sadd", r.sadd("s", "a", "b", "c"), 3)
    check("sadd again", r.sadd("s", "a", "d"), 1)
    check("smembers", r.smembers("s"), {"a", "b", "c", "d"})
    check("sismember", r.sismember("s", "b"), True)
    check("scard", r.scard("s"), 4)
    check("srem", r.srem("s", "a", "zz"), 1)
    try:
        r.set("str", "v")
        r.sadd("str", "x")
        failures.append("sadd on a string: no WRONGTYPE")
    except redis.ResponseError as e:
        check_true("wrongtype", str(e).startswith("WRONGTYPE"), str(e))


def pipeline():
    p = r.pipeline(transaction=False)
    p.set("p1", "1").get("p1").incr("p1").get("p1").delete("p1").get("p1")
    check("pipeline", p.execute(), [True, "1", 2, "2", 1, None])
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.set("pk:%d" % i, i)
    check_true("pipeline 1000", all(p.execute()), "a SET failed")
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.get("pk:%d" % i)
    check("pipeline 1000 get", p.execute(), [str(i) for i in range(1000)])


def expiry():
    r.set("t", "1")
    check("expire", r.expire("t", 100), True)
    ttl = r.ttl("t")
    check_true("ttl", 0 < ttl <= 100, "ttl %r" % ttl)
    check("ttl no expire", (r.set("t0", "1"), r.ttl("t0"))[1], -1)
    check("ttl missing", r.ttl("nosuch"), -2)
    check("persist", r.persist("t"), True)
    check("ttl after persist", r.ttl("t"), -1)
    check("set px", r.set("short", "1", px=50), True)
    deadline = time.monotonic() + 5
    while r.exists("short") and time.monotonic() < deadline:
        time.sleep(0.01)
    check("expired in time", r.exists("short"), 0)
    check("get expired", r.get("short"), None)


def scan():
    want = set()
    for i in range(300):
        r.set("scan:%d" % i, i)
        want.add("scan:%d" % i)
    check("scan_iter", set(r.scan_iter("scan:*", count=20)), want)
    check("keys", set(r.keys("scan:1?")), {"scan:%d" % i for i in range(10, 20)})


def resp3():
    ver = tuple(int(x) for x in redis.__version__.split(".")[:2])
    if ver < (5, 0):
        print("redis_py_check.py: redis-py %s has no RESP3: skipped"
              % redis.__version__)
        return
    r3 = redis.Redis(host="127.0.0.1", port=port, protocol=3,
                     decode_responses=True)
    r3.delete("s3")
    r3.sadd("s3", "x", "y")
    check("resp3 smembers", r3.smembers("s3"), {"x", "y"})
    check("resp3 get", (r3.set("k3", "v"), r3.get("k3"))[1], "v")
    check("resp3 ttl", r3.ttl("k3"), -1)


for name, fn in [("basics", basics), ("counters", counters), ("sets", sets),
                 ("pipeline", pipeline), ("expiry", expiry), ("scan", scan),
                 ("resp3", resp3)]:
    run(name, fn)

if failures:
    for f in failures:
        print("redis_py_check.py: FAIL:", f, file=sys.stderr)
    sys.exit(1)
print("redis_py_check.py: ok (redis-py %s)" % redis.__version__)
