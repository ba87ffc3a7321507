"""GPU host: where the host time of one stream-ordered ss2d call on CUDA tensors goes (issue 16's 50-us bound).

Queued calls as in gpu_vs_mamba.py (S1 and S4 by default, after the engine's warm-up), with timers wrapped around the
client's steps: queuing the ticket write (``Flags.ready``), the round trip to the engine (``Engine._exchange``, and
inside it the engine's whole request ``server_us`` and the op's ``engine_us`` from the reply), queuing the wait for
the engine's done (``Flags.wait_done``), and the rest of the Python call (argument checks, references, the output's
``torch.empty``). Medians per call, in microseconds.

    SS2D_ENGINE=dist/ss2d/bin/ss2d python3 python/bench/cuda_call_parts.py [--reps 40] [--shapes S1,S4]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "src"), str(Path(__file__).resolve().parent)]

import ss2d  # noqa: E402
import _bench  # noqa: E402
from _bench import SHAPES, scan_inputs  # noqa: E402
from ss2d import _engine, _order, _refs  # noqa: E402

parts = {}


def timed(name, fn):
    def wrapper(*a, **k):
        t0 = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            parts.setdefault(name, []).append((time.perf_counter() - t0) * 1e6)
    return wrapper


def main():
    import torch
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--shapes", default="S1,S4")
    a = ap.parse_args()
    print("engine warm-up: %.1f s" % _bench.warm_engine(torch))
    _order.Flags.ready = timed("ready (queue the ticket write)", _order.Flags.ready)
    _order.Flags.wait_done = timed("wait_done (queue the wait)", _order.Flags.wait_done)
    exchange = _engine.Engine._exchange

    def ex(self, conn, req):
        t0 = time.perf_counter()
        r = exchange(self, conn, req)
        parts.setdefault("round trip to the engine", []).append((time.perf_counter() - t0) * 1e6)
        if "server_us" in r:
            parts.setdefault("  the request in the engine (server_us)", []).append(r["server_us"])
            parts.setdefault("  the op in the engine (engine_us)", []).append(r["engine_us"])
        return r
    _engine.Engine._exchange = ex
    _engine.Engine.call_cuda = timed("call_cuda (ready + round trip + wait_done)", _engine.Engine.call_cuda)
    # inside call_cuda, besides the three parts above
    torch.cuda.is_current_stream_capturing = timed("  capture check (is_current_stream_capturing)",
                                                   torch.cuda.is_current_stream_capturing)
    _order.current_stream = timed("  the current stream's handle (_order.current_stream)", _order.current_stream)
    # outside call_cuda: the output (torch.empty, its reference) and the driver's lookup of its allocation
    _refs.new_cuda_output = timed("output: new_cuda_output (torch.empty + reference)", _refs.new_cuda_output)
    torch.empty = timed("  torch.empty", torch.empty)
    _refs._allocation = timed("  _allocation (cuPointerGetAttributes, cached handle)", _refs._allocation)
    _refs.cuda_wire = timed("inputs: cuda_wire (one per CUDA input)", _refs.cuda_wire)
    ss2d.selective_scan = timed("the whole Python call (selective_scan)", ss2d.selective_scan)
    g = torch.Generator(device="cuda").manual_seed(0)
    for name in a.shapes.split(","):
        u, delta, A, B, C, D, bias = scan_inputs(torch, name, g)
        scan = ss2d.selective_scan
        run = lambda: scan(u, delta, A, B, C, D, delta_bias=bias, delta_softplus=True)  # noqa: E731
        for mode in ("queued", "isolated"):
            for _ in range(5):
                run()
            torch.cuda.synchronize()
            parts.clear()
            host = []
            for _ in range(a.reps):
                t0 = time.perf_counter()
                run()
                host.append((time.perf_counter() - t0) * 1e6)
                if mode == "isolated":
                    torch.cuda.synchronize()
            torch.cuda.synchronize()
            print("%s %s %s: host per call %.0f us (median of %d)" % (name, SHAPES[name], mode, statistics.median(host),
                                                                     a.reps))
            for k, v in parts.items():
                print("    %-45s %8.1f us  (min %.1f, max %.1f)" % (k, statistics.median(v), min(v), max(v)))


if __name__ == "__main__":
    main()
