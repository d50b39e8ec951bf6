#!/usr/bin/python3
"""driver.py - drive headless Chromium over its DevTools protocol against
a running dashboard: the job page shows log lines while the job runs, the
DAG page shows every node in its final state, the overview lists the
worker; screenshots are saved and checked not to be blank."""
import argparse
import base64
import json
import os
import struct
import subprocess
import sys
import time
import urllib.request
import zlib

import websocket


CURRENT = None  # the browser, to show what its page held on failure


def fail(msg):
    print("driver.py: FAIL: " + msg, file=sys.stderr)
    b, globals()["CURRENT"] = CURRENT, None
    if b:
        try:
            print("page: " + str(b.js("location.href + ' ' + document.body.innerText"))[:3000],
                  file=sys.stderr)
        except SystemExit:
            pass
    sys.exit(1)


def api(base, path):
    with urllib.request.urlopen(base + path, timeout=5) as r:
        return json.loads(r.read())


def until(what, fn, timeout=30.0, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    fail("timed out waiting for " + what)


class Browser:
    def __init__(self, tmp):
        self.prof = os.path.join(tmp, "chromium-profile")
        exe = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser")
                    if os.path.exists(p)), None)
        if not exe:
            fail("no chromium (scripts/deps.sh test installs it)")
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run",
             "--remote-debugging-port=0", "--user-data-dir=" + self.prof,
             "--window-size=1280,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "chromium.log"), "w"))
        portfile = os.path.join(self.prof, "DevToolsActivePort")
        until("chromium's DevToolsActivePort",
              lambda: os.path.exists(portfile) and open(portfile).read().count("\n") >= 1,
              timeout=30)
        port = open(portfile).read().split("\n")[0]
        pages = until("a page target", lambda: [t for t in json.loads(
            urllib.request.urlopen("http://127.0.0.1:%s/json/list" % port).read())
            if t.get("type") == "page"])
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30)
        self.n = 0

    def call(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.n:
                if "error" in m:
                    fail("%s: %s" % (method, m["error"]))
                return m["result"]

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        if "exceptionDetails" in r:
            fail("js %s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def open(self, url):
        self.call("Page.navigate", url=url)
        until("page " + url, lambda: self.js("document.readyState") == "complete")

    def shot(self, path):
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        with open(path, "wb") as f:
            f.write(data)
        print("screenshot: " + path)
        # Colours are counted on a quarter-size copy: pure Python is slow.
        small = base64.b64decode(self.call(
            "Page.captureScreenshot", format="png",
            clip={"x": 0, "y": 0, "width": 1280, "height": 900, "scale": 0.25})["data"])
        return data, small

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.kill()
            self.proc.wait()


def png_colours(data):
    """Distinct RGB colours of an 8-bit RGB/RGBA PNG (sampled rows)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("not a PNG")
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        ln, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + ln]
        if typ == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6):
                fail("unexpected PNG format %d/%d" % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        pos += 12 + ln
    raw, stride = zlib.decompress(idat), w * bpp
    prev, colours, i = bytearray(stride), set(), 0
    for y in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        if y % 4 == 0:
            for x in range(0, stride, bpp * 2):
                colours.add(bytes(line[x:x + 3]))
    return len(colours)


def check_png(shots, name):
    data, small = shots
    n = png_colours(small)
    if len(data) < 5000 or n < 8:
        fail("%s looks blank: %d bytes, %d colours" % (name, len(data), n))
    print("%s: %d bytes, %d colours" % (name, len(data), n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--submit", required=True, help="command printing the DAG id")
    ap.add_argument("--job", required=True)
    ap.add_argument("--jobs", type=int, required=True)
    ap.add_argument("--worker", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    base, q = a.url, urllib.parse.quote
    # The browser first: it starts slower than the job runs.
    b = Browser(a.out)
    globals()["CURRENT"] = b
    try:
        b.open(base + "/static/style.css")
        a.dag = subprocess.run(a.submit, shell=True, check=True, stdout=subprocess.PIPE,
                               text=True).stdout.strip()
        print("submitted DAG " + a.dag)
        until("job %s running" % a.job,
              lambda: api(base, "/api/jobs/" + q(a.job))["state"] == "RUNNING")
        # The job page, while the job runs: lines appear, then more.
        b.open(base + "/jobs/" + q(a.job))
        n1 = until("log lines in the job page",
                   lambda: b.js("document.querySelectorAll('#log .line').length"))
        if api(base, "/api/jobs/" + q(a.job))["state"] != "RUNNING":
            fail("the job finished before its lines showed")
        until("more lines while it runs",
              lambda: b.js("document.querySelectorAll('#log .line').length") > n1)
        if api(base, "/api/jobs/" + q(a.job))["state"] != "RUNNING":
            fail("the job finished before live lines showed")
        first = b.js("document.querySelector('#log .line').textContent")
        if first != "line 1\n":
            fail("first line is %r, want 'line 1' (history first)" % first)
        check_png(b.shot(os.path.join(a.out, "job.png")), "job.png")
        print("job page: %d lines while running" % n1)
        until("the job page to show COMPLETED",
              lambda: b.js("document.getElementById('log').dataset.state") == "COMPLETED",
              timeout=60)
        lines = b.js("Array.from(document.querySelectorAll('#log .line')).map(e => e.textContent)")
        want = ["line %d\n" % i for i in range(1, 21)]
        if lines != want:
            fail("job page lines %r, want %r" % (lines, want))
        # The DAG page: every node in its final state.
        until("DAG %s completed" % a.dag,
              lambda: api(base, "/api/dags/" + q(a.dag))["state"] == "COMPLETED", timeout=60)
        b.open(base + "/dags/" + q(a.dag))
        states = until("every node drawn", lambda: (lambda s: s if s and len(s) == a.jobs else None)(
            b.js("Array.from(document.querySelectorAll('#dag-graph g.node')).map(g => g.dataset.state)")))
        if states != ["COMPLETED"] * a.jobs:
            fail("DAG node states %r" % states)
        check_png(b.shot(os.path.join(a.out, "dag.png")), "dag.png")
        print("dag page: %d nodes COMPLETED" % len(states))
        # The overview lists the worker.
        b.open(base + "/")
        until("worker %s in the overview" % a.worker,
              lambda: b.js("!!document.querySelector('tr.worker[data-worker=\"%s\"]')" % a.worker))
        until("the DAG in the overview",
              lambda: b.js("document.getElementById('dags').textContent.indexOf('%s') >= 0" % a.dag))
        check_png(b.shot(os.path.join(a.out, "overview.png")), "overview.png")
        print("overview: worker %s listed" % a.worker)
    finally:
        b.close()


if __name__ == "__main__":
    import urllib.parse
    main()
