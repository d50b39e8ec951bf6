#!/usr/bin/env python3
# dag_dask.py - the Dask side of bench/dag-bench.sh: run the same DAG shapes
# (independent, chains of 10, 100x100 layered) of /bin/true tasks on a
# LocalCluster of 2 single-threaded worker processes; print one JSON line
# per shape: tasks/s and dependency-met -> child-started p50/p99 (ms), also
# counted from the later of that and the task's worker coming free.
import json
import random
import subprocess
import sys
import time

from dask.distributed import Client, LocalCluster, get_worker


def shape_parents(shape, n, rng):
    """parents[i] = list of job indexes job i depends on."""
    if shape == "independent":
        return [[] for _ in range(n)]
    if shape == "chains":
        return [[] if i % 10 == 0 else [i - 1] for i in range(n)]
    width = 100
    parents = []
    for i in range(n):
        layer = i // width
        if layer == 0:
            parents.append([])
            continue
        base = (layer - 1) * width
        k = rng.choice((1, 2))
        parents.append(sorted(rng.sample(range(base, base + width), k)))
    return parents


def pct(v, p):
    if not v:
        return None
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def run(client, shape, n, seed):
    parents = shape_parents(shape, n, random.Random(seed))
    t0 = time.time()
    futs = []
    for i in range(n):
        deps = [futs[p] for p in parents[i]]
        futs.append(client.submit(task, *deps, pure=False))
    results = client.gather(futs)
    wall = time.time() - t0
    free_at, by_worker = {}, {}
    for i, r in enumerate(results):
        by_worker.setdefault(r[2], []).append(i)
    for js in by_worker.values():
        js.sort(key=lambda i: results[i][0])
        for a, b in zip(js, js[1:]):
            free_at[b] = results[a][1]
    lat, sched = [], []
    for i, (start, end, _) in enumerate(results):
        if parents[i]:
            ready = max(results[p][1] for p in parents[i])
            lat.append((start - ready) * 1000.0)
            sched.append((start - max(ready, free_at.get(i, 0))) * 1000.0)

    def r2(v):
        return None if v is None else round(v, 2)
    return {
        "shape": shape,
        "n": n,
        "tasks_per_s": round(n / wall, 1),
        "p50_ms": r2(pct(lat, 50)), "p99_ms": r2(pct(lat, 99)),
        "s50_ms": r2(pct(sched, 50)), "s99_ms": r2(pct(sched, 99)),
    }


def task(*parents):
    start = time.time()
    subprocess.run(["/bin/true"], check=True)
    return (start, time.time(), get_worker().address)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    shapes = sys.argv[2].split(",") if len(sys.argv) > 2 else \
        ["independent", "chains", "layered"]
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    try:
        for shape in shapes:
            print(json.dumps(run(client, shape, n, 7)), flush=True)
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
