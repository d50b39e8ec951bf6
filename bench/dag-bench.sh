#!/bin/sh
# dag-bench.sh - the scheduler benchmark: N no-op tasks (/bin/true) as
# independent jobs, chains of 10, and a 100-wide layered DAG, on a Titan
# supervisor with 2 local titan-workers (capacity 1 each), next to the
# physical limit (bench/dag-spawn.c: posix_spawn + reap, 2 at a time) and
# Dask distributed (bench/dag_dask.py, 2 single-threaded worker processes).
#
#   bench/dag-bench.sh [BUILD_DIR]        (default build; `make all` first)
#   N=2000 SHAPES=chains DASK=0 bench/dag-bench.sh build
#
# Titan's times come from the scheduler's job records (JOB_INFO ready_us,
# started_us, finished_us: epoch microseconds taken as the scheduler
# handles each event), so its latencies are in microseconds; Dask's are
# converted from its milliseconds.  "dep->start": a child's start minus
# the moment its dependency was met (ready_us: its last parent's end);
# with 2 busy slots that includes waiting for a slot.  "dep+slot->start":
# minus the later of that and the end of the job before it on the same
# worker: the scheduler's own delay.  Under the table, the CPU time per
# job of each Titan process (/proc utime+stime over the run / N), and of
# what the workers spawned; dag-spawn prints its own on stderr.
set -e
build=${1:-build}
case $build in /*) ;; *) build="$PWD/$build" ;; esac
N=${N:-10000}
SHAPES=${SHAPES:-independent,chains,layered}
DASK=${DASK:-1}
# Debian's python3-distributed lives in the system Python, not in a pyenv
DASK_PYTHON=${DASK_PYTHON:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)

[ -x "$build/titan-supervisor" ] && [ -x "$build/titan-worker" ] ||
	{ echo "dag-bench: build $build first (make BUILD=... all)" >&2; exit 2; }

if [ "$DASK" = 1 ] && ! "$DASK_PYTHON" -c 'import distributed' 2>/dev/null; then
	echo "dag-bench: installing python3-distributed (Dask) with apt-get" >&2
	if [ "$(id -u)" = 0 ]; then
		apt-get install -y python3-distributed >/dev/null
	else
		sudo apt-get install -y python3-distributed >/dev/null
	fi
fi

tmp=$(mktemp -d /tmp/titan-dag-bench-XXXXXX)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	sleep 0.2
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cc -O2 -o "$tmp/dag-spawn" "$here/dag-spawn.c"

port=$(free_port)
tport=$(free_port)
cat >"$tmp/titan.conf" <<EOF
port $port
bind 127.0.0.1
titan-port $tport
http-port 0
save ""
dir $tmp
logfile $tmp/titan.log
shards 2
EOF
"$build/titan-supervisor" -c "$tmp/titan.conf" >"$tmp/sup.out" 2>&1 &
pids="$pids $!"
i=0
until [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; do
	i=$((i + 1))
	[ $i -le 150 ] || { echo "dag-bench: supervisor did not start" >&2; cat "$tmp/sup.out" >&2; exit 1; }
	sleep 0.1
done
for w in 1 2; do
	"$build/titan-worker" -p "$tport" --id "bench-$w" --capacity 1 \
		--workdir "$tmp/ws$w" >"$tmp/worker$w.log" 2>&1 &
	pids="$pids $!"
done

# Titan: submit each shape as one SUBMIT_DAG2, wait, read the job records.
python3 - "$tport" "$N" "$SHAPES" $pids >"$tmp/titan.jsonl" <<'EOF'
import base64, json, os, random, socket, struct, sys, time

port, n, shapes = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
watched = [int(p) for p in sys.argv[4:]]  # the supervisor, the workers
tick = os.sysconf("SC_CLK_TCK")


def cpu():
    """CPU seconds by process title: the supervisor's children, the
    workers, and (as "spawned") what the workers' reaped children used."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = open("/proc/%s/stat" % d).read()
            title = open("/proc/%s/cmdline" % d, "rb").read()
        except OSError:
            continue
        f = st[st.rindex(")") + 2:].split()
        pid, ppid = int(d), int(f[1])
        if pid not in watched and ppid not in watched[:1]:
            continue
        title = title.split(b"\0")[0].decode(errors="replace").strip()
        out[title] = out.get(title, 0) + (int(f[11]) + int(f[12])) / tick
        if pid in watched[1:]:
            out["spawned"] = out.get("spawned", 0) + \
                (int(f[13]) + int(f[14])) / tick
    return out


class Link:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port))

    def call(self, op, body):
        self.s.sendall(struct.pack(">BBBBI", 1, op, 0, 0, len(body)) + body)
        h = self._read(8)
        return h[1], self._read(struct.unpack(">I", h[4:])[0]).decode()

    def _read(self, k):
        b = b""
        while len(b) < k:
            c = self.s.recv(k - len(b))
            if not c:
                raise SystemExit("dag-bench: scheduler closed the connection")
            b += c
        return b


def wait_workers(link):
    end = time.time() + 15
    while time.time() < end:
        ws = json.loads(link.call(0x77, b"")[1])
        if sum(1 for w in ws if w["alive"]) >= 2:
            return
        time.sleep(0.05)
    raise SystemExit("dag-bench: the 2 workers did not register")


def parents_of(shape, rng):
    if shape == "independent":
        return [[] for _ in range(n)]
    if shape == "chains":
        return [[] if i % 10 == 0 else [i - 1] for i in range(n)]
    par = []
    for i in range(n):
        layer = i // 100
        if layer == 0:
            par.append([])
            continue
        base = (layer - 1) * 100
        par.append(sorted(rng.sample(range(base, base + 100), rng.choice((1, 2)))))
    return par


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))] if v else None


argv = base64.b64encode(b"/bin/true").decode()
link = Link()
wait_workers(link)
for shape in shapes:
    par = parents_of(shape, random.Random(7))
    pre = shape[0] + str(int(time.time() * 1000) % 100000)
    lines = []
    for i in range(n):
        ps = ",".join("%s-%d" % (pre, p) for p in par[i])
        lines.append("%s-%d|GENERAL|EXEC|%s|0|0|||1|0|[%s]" % (pre, i, argv, ps))
    c0 = cpu()
    t0 = time.time()
    op, dag = link.call(0x78, ";".join(lines).encode())
    if op != 0x50:
        raise SystemExit("dag-bench: SUBMIT_DAG2 refused: " + dag)
    end = time.time() + 600
    while True:
        # DAG_INFO lists every job (~70 bytes each): ask for it only once
        # the ready queue is empty, so polling does not steal the CPU
        # the spawns need
        if json.loads(link.call(0x09, b"")[1])["queue_size"] > 0 and \
                time.time() < end:
            time.sleep(0.2)
            continue
        info = json.loads(link.call(0x76, dag.encode())[1])
        c = info["counts"]
        if c.get("COMPLETED", 0) + c.get("DEAD", 0) + c.get("CANCELLED", 0) >= n:
            break
        if time.time() > end:
            raise SystemExit("dag-bench: %s not done after 600 s: %s" % (shape, c))
        time.sleep(0.2)
    c1 = cpu()
    recs = {}
    for i in range(n):
        jid = "DAG-%s-%d" % (pre, i)
        recs[i] = json.loads(link.call(0x75, jid.encode())[1])
    bad = [r["id"] for r in recs.values() if r["state"] != "COMPLETED"]
    last = max(r["finished_us"] for r in recs.values())
    # when each job's worker slot came free: the end of the job before
    # it on the same worker
    free_at, by_worker = {}, {}
    for i, r in recs.items():
        by_worker.setdefault(r["worker"], []).append(i)
    for js in by_worker.values():
        js.sort(key=lambda i: (recs[i]["started_us"], recs[i]["finished_us"]))
        for a, b in zip(js, js[1:]):
            free_at[b] = recs[a]["finished_us"]
    # a job's time on its worker as the scheduler sees it (dispatch ->
    # completion handled): spawn + run + reap + two link hops
    busy = [r["finished_us"] - r["started_us"] for r in recs.values()]
    lat, sched = [], []
    for i in range(n):
        if par[i]:
            ready = recs[i]["ready_us"]
            if ready != max(recs[p]["finished_us"] for p in par[i]):
                raise SystemExit("dag-bench: %s: ready_us is not its last "
                                 "parent's finished_us" % recs[i]["id"])
            lat.append(recs[i]["started_us"] - ready)
            sched.append(recs[i]["started_us"] - max(ready, free_at.get(i, 0)))
    print(json.dumps({
        "shape": shape, "n": n, "failed": len(bad),
        "tasks_per_s": round(n / (last / 1e6 - t0), 1),
        "p50_us": pct(lat, 50), "p99_us": pct(lat, 99),
        "s50_us": pct(sched, 50), "s99_us": pct(sched, 99),
        "busy50_us": pct(busy, 50),
        "cpu_us": {k: round((c1.get(k, 0) - v) * 1e6 / n)
                   for k, v in c0.items() if c1.get(k, 0) - v > 0},
    }), flush=True)
EOF

raw=$("$tmp/dag-spawn" "$N" 2)
if [ "$DASK" = 1 ]; then
	"$DASK_PYTHON" "$here/dag_dask.py" "$N" "$SHAPES" >"$tmp/dask.jsonl" 2>"$tmp/dask.err" ||
		{ echo "dag-bench: Dask run failed:" >&2; tail -5 "$tmp/dask.err" >&2; : >"$tmp/dask.jsonl"; }
else
	: >"$tmp/dask.jsonl"
fi

python3 - "$raw" "$tmp/titan.jsonl" "$tmp/dask.jsonl" <<'EOF'
import json, sys

raw = float(sys.argv[1])
titan = {j["shape"]: j for j in map(json.loads, open(sys.argv[2]))}
dask = {j["shape"]: j for j in map(json.loads, open(sys.argv[3]))}


def f(v, unit=""):
    if v is None:
        return "-"
    return ("%d" % v if float(v).is_integer() else "%g" % v) + unit


def us(ms):
    """Dask reports milliseconds; the table is in microseconds."""
    return None if ms is None else round(ms * 1000)


print("| shape | raw spawn/s | titan tasks/s | titan/raw | dask tasks/s "
      "| titan/dask | titan dep->start p50/p99 µs | titan dep+slot->start "
      "p50/p99 µs | dask dep->start p50/p99 µs | dask dep+slot->start "
      "p50/p99 µs |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for shape, t in titan.items():
    d = dask.get(shape, {})
    dt = d.get("tasks_per_s")
    print("| %s | %.0f | %.0f | %.0f %% | %s | %s | %s / %s | %s / %s "
          "| %s / %s | %s / %s |" % (
              shape, raw, t["tasks_per_s"], 100 * t["tasks_per_s"] / raw,
              f(dt), "-" if not dt else "%.1fx" % (t["tasks_per_s"] / dt),
              f(t["p50_us"]), f(t["p99_us"]), f(t["s50_us"]), f(t["s99_us"]),
              f(us(d.get("p50_ms"))), f(us(d.get("p99_ms"))),
              f(us(d.get("s50_ms"))), f(us(d.get("s99_ms")))))
    if t["failed"]:
        print("|   %s: %d jobs did not complete |" % (shape, t["failed"]))
print()
print("CPU time per job by process (us; /proc utime+stime over the run "
      "/ N); busy = a job's dispatch -> completion at the scheduler, p50")
for shape, t in titan.items():
    print("%s: busy %s us; %s" % (shape, f(t["busy50_us"]), ", ".join(
        "%s %d" % kv for kv in sorted(t["cpu_us"].items()))))
EOF
