"""Overload client for bench/overload_latency.

CONNECTIONS threads, each with one keep-alive connection, send
POST /api/analyze back to back for DURATION seconds (a refused request is
sent again at once, as a busy client would). For every answer it writes one
line: status, client-measured milliseconds, the server's durationMs and the
sandbox's wallMs and kind (warm/cold) for a run that ran.
"""
import http.client
import json
import sys
import threading
import time

port, key, body_file, conns, duration, out_path = sys.argv[1:7]
body = open(body_file, "rb").read()
deadline = time.monotonic() + float(duration)
lines = []
lock = threading.Lock()


def client():
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)
    headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        try:
            conn.request("POST", "/api/analyze", body, headers)
            reply = conn.getresponse()
            data = reply.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)
            continue
        ms = (time.monotonic() - t0) * 1000
        dur = wall = -1
        kind = "-"
        if reply.status == 200:
            j = json.loads(data)
            dur = j.get("durationMs", -1)
            usage = j.get("usage") or {}
            wall = usage.get("wallMs", -1)
            kind = usage.get("sandbox") or "-"
            queue = usage.get("queueMs", -1)
        else:
            queue = -1
        with lock:
            lines.append("%d %.1f %d %d %s %d %.1f" % (reply.status, ms, dur, wall, kind, queue, t0))
    conn.close()


threads = [threading.Thread(target=client) for _ in range(int(conns))]
for t in threads:
    t.start()
for t in threads:
    t.join()
with open(out_path, "w") as f:
    f.write("\n".join(lines) + "\n")
