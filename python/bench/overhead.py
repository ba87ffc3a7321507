"""Per-call overhead of the package, for the issue's bound (at most 50 us per call):

* **per call**: a 1-element selective scan (inputs and outputs in shared memory), timed around the Python call,
  end to end: Python builds the request, the engine maps nothing new, runs the op and answers, Python wraps the
  output. This is the strict number: it includes the op itself.
* **overhead**: the per-call time minus the op's own time in the engine (``engine_us``: the facade call, i.e.
  validation, dispatch and the kernel, timed in the JVM). What the package adds to the op.

Also shown: a ``ping`` (an empty binary round trip), the engine's whole request time (``server_us``: reading the
views, the op, the reply), the Python part alone (the call with the engine stubbed out), and a same-run anchor:
a round trip of a 300-byte frame between two Python processes over a Unix socket pair, what the machine's
scheduler and sockets cost before any engine work. ``--rounds`` rounds of ``--calls`` calls each, interleaved;
each number is the median over the rounds of the per-round medians.

    SS2D_ENGINE=... python3 python/bench/overhead.py [--calls 20000] [--rounds 5] [--backend cpu]
"""

import argparse
import os
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import ss2d  # noqa: E402
from ss2d import _engine  # noqa: E402

BOUND_US = 50.0


def socket_floor(calls):
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


def per_call(fn, calls):
    ts = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        fn()
        ts.append(time.perf_counter_ns() - t0)
    return statistics.median(ts) / 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--backend", default="cpu")
    a = ap.parse_args()
    ss2d.ping()
    u = ss2d.empty(1, 1, 1); u[:] = 1
    dt = ss2d.empty(1, 1, 1); dt[:] = 0.5
    A = ss2d.empty(1, 1); A[:] = -1
    B = ss2d.empty(1, 1, 1); B[:] = 1
    C = ss2d.empty(1, 1, 1); C[:] = 1

    eng = _engine.engine()
    real_call = eng.call
    engine_us, server_us = [], []

    def timed_call(req, start=True):
        r = real_call(req, start)
        engine_us.append(r.get("engine_us", 0))
        server_us.append(r.get("server_us", 0))
        return r

    def stub_call(req, start=True):
        return {"ok": True}

    def scan():
        ss2d.selective_scan(u, dt, A, B, C, backend=a.backend)

    eng.call = timed_call
    for _ in range(5000):                          # warm-up: JIT on the engine, caches here
        ss2d.ping()
        scan()
    copies = ss2d.stats()["copies_in"]
    rows = []
    for r in range(a.rounds):
        floor = socket_floor(a.calls)
        ping = per_call(ss2d.ping, a.calls)
        engine_us.clear()
        server_us.clear()
        call = per_call(scan, a.calls)
        op, srv = statistics.median(engine_us), statistics.median(server_us)
        eng.call = stub_call
        py = per_call(scan, a.calls)
        eng.call = timed_call
        rows.append((floor, ping, call, op, srv, py, call - op))
        print("round %d: anchor %.1f us, ping %.1f us, scan per call %.1f us (op %.1f us, request in the engine %.1f us, "
              "Python alone %.1f us), overhead %.1f us" % ((r + 1,) + rows[-1]), flush=True)
    med = [statistics.median(col) for col in zip(*rows)]
    floor, ping, call, op, srv, py, over = med
    print("medians of %d rounds x %d calls, backend %s:" % (a.rounds, a.calls, a.backend))
    print("  anchor (Python to Python, Unix socket pair, 300 bytes): %.1f us" % floor)
    print("  ping (empty binary round trip to the engine): %.1f us" % ping)
    print("  selective_scan (1, 1, 1), dstate 1, end to end: %.1f us per call [%s the %.0f us bound]"
          % (call, "within" if call <= BOUND_US else "OVER", BOUND_US))
    print("    the op in the engine (engine_us): %.1f us; the whole request in the engine (server_us): %.1f us; "
          "the Python part alone: %.1f us" % (op, srv, py))
    print("  overhead (per call - op): %.1f us [%s the %.0f us bound]" % (over, "within" if over <= BOUND_US else "OVER", BOUND_US))
    print("  copies into shared memory during the timed calls: %d" % (ss2d.stats()["copies_in"] - copies))


if __name__ == "__main__":
    main()
