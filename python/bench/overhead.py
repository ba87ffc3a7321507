"""Per-call overhead of the package: a round trip with no op (ping), and a 1-element selective scan on
inputs already in shared memory, split into the engine's own time (engine_us, measured in the JVM around
the op) and the rest (Python, the socket, JSON). Medians of N calls after a warm-up.

    SS2D_ENGINE=... python3 python/bench/overhead.py [--calls 20000] [--backend cpu]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import ss2d  # noqa: E402
from ss2d import _engine  # noqa: E402


def socket_floor(calls):
    """Same-run anchor: a round trip of a 300-byte frame to another Python process over a Unix socket pair,
    i.e. what the machine's scheduler and sockets cost before any engine work."""
    import os
    import socket
    a, b = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        a.close()
        while True:
            d = b.recv(4096)
            if not d:
                os._exit(0)
            b.sendall(d)
    b.close()
    msg = b"x" * 300
    ts = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        a.sendall(msg)
        got = 0
        while got < len(msg):
            got += len(a.recv(4096))
        ts.append(time.perf_counter_ns() - t0)
    a.close()
    os.waitpid(pid, 0)
    return statistics.median(ts) / 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--backend", default="cpu")
    a = ap.parse_args()
    ss2d.ping()
    u = ss2d.empty(1, 1, 1); u[:] = 1
    dt = ss2d.empty(1, 1, 1); dt[:] = 0.5
    A = ss2d.empty(1, 1); A[:] = -1
    B = ss2d.empty(1, 1, 1); B[:] = 1
    C = ss2d.empty(1, 1, 1); C[:] = 1

    eng = _engine.engine()
    engine_us, server_us = [], []
    call = eng.call

    def timed_call(req):
        r = call(req)
        engine_us.append(r.get("engine_us", 0))
        server_us.append(r.get("server_us", 0))
        return r

    eng.call = timed_call
    for _ in range(2000):                          # warm-up: JIT on the engine, caches here
        ss2d.ping()
        ss2d.selective_scan(u, dt, A, B, C, backend=a.backend)

    def per_call(fn):
        ts = []
        for _ in range(a.calls):
            t0 = time.perf_counter_ns()
            fn()
            ts.append(time.perf_counter_ns() - t0)
        return statistics.median(ts) / 1000, statistics.quantiles(ts, n=100)[98] / 1000

    ping_med, ping_p99 = per_call(ss2d.ping)
    engine_us.clear()
    server_us.clear()
    scan_med, scan_p99 = per_call(lambda: ss2d.selective_scan(u, dt, A, B, C, backend=a.backend))
    eng_med = statistics.median(engine_us)
    srv_med = statistics.median(server_us)
    floor = socket_floor(a.calls)
    print("anchor, Python to Python over a Unix socket pair (300 bytes): median %.1f us" % floor)
    print("ping round trip: median %.1f us, p99 %.1f us" % (ping_med, ping_p99))
    print("selective_scan (1, 1, 1, dstate 1) on %s: median %.1f us per call, p99 %.1f us; engine's op time median %.1f us;"
          " the whole request in the engine (views, op, release) %.1f us; overhead (call - op) %.1f us"
          % (a.backend, scan_med, scan_p99, eng_med, srv_med, scan_med - eng_med))
    print("copies in during the timed calls: %d" % ss2d.stats()["copies_in"])


if __name__ == "__main__":
    main()
