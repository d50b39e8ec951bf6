"""redis_py_pubsub.py PORT - what an application does with redis-py's PubSub.

Run by redis_py.sh with Debian's /usr/bin/python3 and python3-redis.
Several connections are opened so subscribers and publishers land on both
shards.  Every check runs; the failures are listed and the exit status is 1.
"""
import sys
import threading
import time

import redis

port = int(sys.argv[1])
failures = []
TIMEOUT = 5.0


def check(name, got, want):
    if got != want:
        failures.append("%s: got %r, want %r" % (name, got, want))


def run(name, fn):
    try:
        fn()
    except Exception as e:  # one broken part must not hide the others
        failures.append("%s: %s: %s" % (name, type(e).__name__, e))


def client():
    # no pool sharing: each one is its own connection, on some shard
    return redis.Redis(host="127.0.0.1", port=port, decode_responses=True,
                       socket_timeout=10, single_connection_client=True)


def next_message(p, timeout=TIMEOUT):
    """The next message of any type, or None after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = p.get_message(timeout=0.1)
        if m is not None:
            return m
    return None


def channels():
    r = client()
    subs = []
    for i in range(4):
        p = client().pubsub()
        p.subscribe("news", "sport")
        check("subscribe confirm %d" % i, next_message(p),
              {"type": "subscribe", "pattern": None, "channel": "news",
               "data": 1})
        check("subscribe confirm 2 %d" % i, next_message(p),
              {"type": "subscribe", "pattern": None, "channel": "sport",
               "data": 2})
        subs.append(p)
    check("numsub", r.pubsub_numsub("news", "sport", "none"),
          [("news", 4), ("sport", 4), ("none", 0)])
    check("channels", sorted(r.pubsub_channels()), ["news", "sport"])
    check("channels pattern", r.pubsub_channels("n*"), ["news"])
    for i in range(3):
        pub = client()
        check("publish %d" % i, pub.publish("news", "hello %d" % i), 4)
        for j, p in enumerate(subs):
            check("message %d to %d" % (i, j), next_message(p),
                  {"type": "message", "pattern": None, "channel": "news",
                   "data": "hello %d" % i})
    check("nobody", r.publish("none", "x"), 0)
    for p in subs:
        p.unsubscribe()
        got = sorted([next_message(p)["channel"], next_message(p)["channel"]])
        check("unsubscribed", got, ["news", "sport"])
        check("no longer subscribed", p.subscribed, False)
        p.close()
    check("numsub after", r.pubsub_numsub("news"), [("news", 0)])


def patterns():
    r = client()
    p = client().pubsub()
    p.psubscribe("ev.*")
    check("psubscribe confirm", next_message(p),
          {"type": "psubscribe", "pattern": None, "channel": "ev.*",
           "data": 1})
    check("numpat", r.pubsub_numpat(), 1)
    check("publish to pattern", r.publish("ev.one", "1"), 1)
    check("pmessage", next_message(p),
          {"type": "pmessage", "pattern": "ev.*", "channel": "ev.one",
           "data": "1"})
    p.punsubscribe("ev.*")
    check("punsubscribe", next_message(p)["type"], "punsubscribe")
    check("numpat after", r.pubsub_numpat(), 0)
    p.close()


def handlers_in_thread():
    r = client()
    got = []
    done = threading.Event()

    def on_message(m):
        got.append(m["data"])
        if len(got) == 50:
            done.set()

    p = client().pubsub(ignore_subscribe_messages=True)
    p.subscribe(**{"jobs": on_message})
    t = p.run_in_thread(sleep_time=0.01, daemon=True)
    deadline = time.monotonic() + TIMEOUT
    while r.pubsub_numsub("jobs")[0][1] != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    for i in range(50):
        r.publish("jobs", str(i))
    done.wait(TIMEOUT)
    t.stop()
    t.join(TIMEOUT)
    check("handler got all, in order", got, [str(i) for i in range(50)])
    p.close()


def ping_and_listen():
    r = client()
    p = client().pubsub()
    p.subscribe("c")
    next_message(p)
    # PING while subscribed (RESP2): a "pong" message
    p.ping()
    m = next_message(p)
    check("pubsub ping", (m or {}).get("type"), "pong")
    p.ping("hi")
    m = next_message(p)
    check("pubsub ping arg", (m or {}).get("data"), "hi")
    r.publish("c", "via listen")
    for m in p.listen():
        if m["type"] == "message":
            check("listen", m["data"], "via listen")
            break
    # a plain command in the subscribed context is refused
    try:
        p.execute_command("GET", "x")
        m = next_message(p)
        check("refused in context", "only (P|S)SUBSCRIBE" in str(m), True)
    except redis.exceptions.ResponseError as e:
        check("refused in context", "only (P|S)SUBSCRIBE" in str(e), True)
    p.close()


def keyspace():
    r = client()
    r.config_set("notify-keyspace-events", "KEA")
    check("config get", r.config_get("notify-keyspace-events"),
          {"notify-keyspace-events": "AKE"})
    p = client().pubsub(ignore_subscribe_messages=True)
    p.psubscribe("__keyspace@0__:job:*")
    p.subscribe("__keyevent@0__:expired")
    next_message(p, 0.2)
    r.set("job:1", "x")
    check("keyspace set", next_message(p),
          {"type": "pmessage", "pattern": "__keyspace@0__:job:*",
           "channel": "__keyspace@0__:job:1", "data": "set"})
    r.sadd("job:2", "a")
    check("keyspace sadd", (next_message(p) or {}).get("data"), "sadd")
    r.delete("job:1")
    check("keyspace del", (next_message(p) or {}).get("data"), "del")
    r.set("job:3", "x", px=100)
    want = [("__keyspace@0__:job:3", "set"), ("__keyspace@0__:job:3",
                                               "expire")]
    got = [next_message(p) for _ in want]
    check("set px", [(m or {}).get("channel") and (m["channel"], m["data"])
                     for m in got], want)
    # nobody reads job:3: active expiry announces it on both channels
    start = time.monotonic()
    seen = set()
    while len(seen) < 2 and time.monotonic() - start < 2:
        m = next_message(p, 2)
        if m:
            seen.add((m["channel"], m["data"]))
    check("expired events", seen,
          {("__keyspace@0__:job:3", "expired"),
           ("__keyevent@0__:expired", "job:3")})
    check("expired promptly", time.monotonic() - start < 0.5, True)
    r.config_set("notify-keyspace-events", "")
    p.close()


for name, fn in [("channels", channels), ("patterns", patterns),
                 ("handlers_in_thread", handlers_in_thread),
                 ("ping_and_listen", ping_and_listen),
                 ("keyspace", keyspace)]:
    run(name, fn)

if failures:
    for f in failures:
        print("redis_py_pubsub.py: FAIL:", f, file=sys.stderr)
    sys.exit(1)
print("redis_py_pubsub.py: ok (redis-py %s)" % redis.__version__)
