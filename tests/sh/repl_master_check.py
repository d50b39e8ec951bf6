#!/usr/bin/env python3
"""repl_master_check.py - helpers of repl_master.sh.

  gen N SEED        RESP for `redis-cli --pipe`: N mixed writes (strings,
                    sets, TTLs, deletes, keys that expire within the run)
  compare M R SECS  poll (at most SECS) until master port M and replica
                    port R hold the same keys, values, members and TTLs;
                    exit 1 with the differences otherwise
  sync M OUT        old-style SYNC: read the sized RDB bulk into OUT
"""
import random
import socket
import sys
import time

import redis


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def gen(n, seed):
    rnd = random.Random(seed)
    w = sys.stdout.buffer
    for i in range(n):
        k = rnd.randrange(20000)
        op = rnd.random()
        if op < 0.35:
            w.write(resp("SET", "s:%d" % k, "v%d-%d" % (i, rnd.randrange(1 << 30))))
        elif op < 0.45:
            w.write(resp("SET", "t:%d" % k, "ttl%d" % i, "EX", 1000 + rnd.randrange(5000)))
        elif op < 0.50:
            # gone before the comparison: expiry must reach the replica
            w.write(resp("SET", "e:%d" % k, "short", "PX", 1 + rnd.randrange(300)))
        elif op < 0.68:
            w.write(resp("SADD", "set:%d" % (k % 3000), "m%d" % rnd.randrange(200),
                         "m%d" % rnd.randrange(200)))
        elif op < 0.76:
            w.write(resp("SREM", "set:%d" % (k % 3000), "m%d" % rnd.randrange(200)))
        elif op < 0.86:
            w.write(resp("DEL", "s:%d" % k, "t:%d" % rnd.randrange(20000)))
        elif op < 0.93:
            w.write(resp("PEXPIRE", "s:%d" % k, 2000000 + rnd.randrange(100000)))
        elif op < 0.96:
            w.write(resp("PERSIST", "t:%d" % k))
        else:
            w.write(resp("INCR", "n:%d" % (k % 500)))


def snapshot(c):
    """Every key: (type, value, absolute expiry in ms or -1), pipelined."""
    keys = list(c.scan_iter(count=1000))
    p = c.pipeline(transaction=False)
    for k in keys:
        p.type(k)
    types = p.execute()
    p = c.pipeline(transaction=False)
    for k, t in zip(keys, types):
        if t == b"set":
            p.smembers(k)
        else:
            p.get(k)
        p.pexpiretime(k)
    res = p.execute()
    out = {}
    for i, (k, t) in enumerate(zip(keys, types)):
        v, at = res[2 * i], res[2 * i + 1]
        if t == b"none" or v is None or (t == b"set" and not v):
            continue  # expired between SCAN and the read
        if t == b"set":
            v = frozenset(v)
        elif t != b"string":
            v = ("unexpected type", t)
        out[k] = (t, v, at)
    return out


def differences(m, r):
    diffs = []
    for k in set(m) | set(r):
        a, b = m.get(k), r.get(k)
        if a is None or b is None:
            diffs.append("%r: master %r, replica %r" % (k, a, b))
        elif a != b:
            # the same absolute expiry, to the millisecond
            diffs.append("%r: master %r, replica %r" % (k, a, b))
    return diffs


def compare(mport, rport, secs):
    m = redis.Redis(port=mport)
    r = redis.Redis(port=rport)
    deadline = time.time() + secs
    while True:
        ms, rs = m.dbsize(), r.dbsize()
        if ms == rs:
            a, b = snapshot(m), snapshot(r)
            d = differences(a, b)
            if not d and len(a) == ms:
                print("same %d keys (%d sets, %d with a TTL)" % (
                    ms, sum(1 for v in a.values() if v[0] == b"set"),
                    sum(1 for v in a.values() if v[2] >= 0)))
                sys.stdout.flush()
                return 0
        else:
            d = ["dbsize master %d, replica %d" % (ms, rs)]
        if time.time() > deadline:
            print("\n".join(d[:20]), file=sys.stderr)
            print("%d differences" % len(d), file=sys.stderr)
            return 1
        time.sleep(0.2)


def sync(mport, out):
    s = socket.create_connection(("127.0.0.1", mport), timeout=10)
    s.sendall(b"SYNC\r\n")
    f = s.makefile("rb")
    line = f.readline()
    while line == b"\n":  # keep-alives while the snapshot is made
        line = f.readline()
    if not line.startswith(b"$"):
        print("SYNC answered %r" % line, file=sys.stderr)
        return 1
    n = int(line[1:].strip())
    data = f.read(n)
    if len(data) != n or not data.startswith(b"REDIS0010"):
        print("bad RDB payload (%d of %d bytes)" % (len(data), n), file=sys.stderr)
        return 1
    with open(out, "wb") as o:
        o.write(data)
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]))
        return 0
    if cmd == "compare":
        return compare(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    if cmd == "sync":
        return sync(int(sys.argv[2]), sys.argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
