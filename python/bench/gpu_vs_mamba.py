"""GPU host: ss2d.selective_scan against mamba's selective_scan_fn on S1..S5 (fp32, grouped B/C, D, delta_bias,
softplus), one Python process, the same CUDA tensors.

Both run on the same CUDA tensors, timed with CUDA events around the Python call, two ways (median of --reps after
a warm-up):

* queued: calls in a row, as a model makes them, never waited for in between (events around each call, one wait
  at the end): what each call adds to the GPU's timeline while the host keeps ahead. By default ss2d's calls are
  stream-ordered (the engine's stream waits for the call's ticket that PyTorch's stream writes into a page both
  processes map, and PyTorch's for the ticket the engine's writes back; nothing waits on the host), so the round trip
  to the engine hides behind the GPU's work when it is shorter; with SS2D_CUDA_SYNC=1 they are synchronous (the client
  synchronises PyTorch's stream before sending, the engine its own before replying);
* isolated: each call waited for before the next, the GPU idle when it starts: the latency of one call, round
  trip and host work included.

The engine is warmed up first (2000 small calls: its JIT compiles the request path, as a model's calls would).
Host time per call (wall clock around the Python call, queued) and the engine's own host time for the op
(engine_us: the facade, validation and the launches) give the Python-side overhead: host - engine. The mode
is printed above the table (scripts/gpu-python.sh runs both). ss2d is
also timed on the same values in host shared memory with backend="cuda" (the engine uploads the inputs and
downloads the outputs), for reference. Outputs are checked against mamba's (2 * 1e-4 of max|out|, the policy for
backend against backend).

    SS2D_ENGINE=dist/ss2d/bin/ss2d python3 python/bench/gpu_vs_mamba.py --module-dir DIR [--reps 50] [--shapes S1,S3]

DIR holds mamba's selective_scan_cuda module built from its public source (as for scripts/anchors/
mamba_scan_times.py); without it, mamba_ssm's selective_scan_fn is used if installed, else only ss2d is timed.
"""

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "src"), str(Path(__file__).resolve().parent)]

import ss2d  # noqa: E402
import _bench  # noqa: E402
from _bench import SHAPES, events, queued, scan_inputs  # noqa: E402



def main():
    import torch
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--module-dir", help="folder holding mamba's built selective_scan_cuda module")
    a = ap.parse_args()
    selective_scan_fn = None
    if a.module_dir:
        sys.path.insert(0, a.module_dir)
        import selective_scan_cuda as ssc
        selective_scan_fn = lambda u, dt, A, B, C, D, z, bias, sp: ssc.fwd(u, dt, A, B, C, D, z, bias, sp)[0]  # noqa: E731
    else:
        try:
            from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
        except ImportError as e:
            print("mamba: not importable (%s); only ss2d is timed" % e)
    g = torch.Generator(device="cuda").manual_seed(0)
    print("engine warm-up (2000 small scans and cross scans on CUDA tensors, so that its JIT compiled the request "
          "path): %.1f s" % _bench.warm_engine(torch))
    from ss2d import _engine
    eng = _engine.engine()
    engine_us = _bench.record_engine_us(eng)
    from ss2d import _refs
    mode = "stream-ordered (the default)" if _refs.CUDA_ORDERED else "synchronous (SS2D_CUDA_SYNC=1)"
    print("ss2d calls on CUDA tensors: %s; %s" % (mode, torch.cuda.get_device_name()))
    print("| shape (Bt, D, G, L, N) | mamba ms queued | ss2d ms queued | mamba / ss2d queued | mamba ms isolated "
          "| ss2d ms isolated | mamba / ss2d isolated | ss2d host us per call | engine us | ss2d overhead us (host - engine) "
          "| mamba host us per call | ss2d ms (host shared, backend cuda) | max rel diff vs mamba |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    over = []
    for name in a.shapes.split(","):
        u, delta, A, B, C, D, bias = scan_inputs(torch, name, g)
        nan = float("nan")
        mamba_q, mamba_host, mamba_ms, mamba_out = nan, nan, nan, None
        if selective_scan_fn is not None:
            run = lambda: selective_scan_fn(u, delta, A, B, C, D, None, bias, True)  # noqa: E731
            mamba_q, mamba_host = queued(torch, run, a.reps, "mamba " + name)
            mamba_ms = events(torch, run, a.reps)
            mamba_out = run().cpu().numpy()
        on_cuda = lambda: ss2d.selective_scan(u, delta, A, B, C, D, delta_bias=bias, delta_softplus=True)  # noqa: E731
        engine_us.clear()
        cuda_q, host_us = queued(torch, on_cuda, a.reps, "ss2d " + name)
        call_engine_us = statistics.median(engine_us[3:])             # the timed calls, not the warm-up
        cuda_ms = events(torch, on_cuda, a.reps)
        over.append(host_us - call_engine_us)
        out = on_cuda().cpu().numpy()
        host = {k: ss2d.shared(v.cpu().numpy()) for k, v in dict(u=u, delta=delta, A=A, B=B, C=C, D=D, bias=bias).items()}
        call = lambda: ss2d.selective_scan(host["u"], host["delta"], host["A"], host["B"], host["C"], host["D"],  # noqa: E731
                                           delta_bias=host["bias"], delta_softplus=True, backend="cuda")
        host_ms = events(torch, call, max(5, a.reps // 5))
        diff = float("nan") if mamba_out is None else float(np.abs(out - mamba_out).max() / np.abs(mamba_out).max())
        print("| %s %s | %.3f | %.3f | %.2fx | %.3f | %.3f | %.2fx | %.0f | %.0f | %.0f | %.0f | %.3f | %.2e |" % (
            name, SHAPES[name], mamba_q, cuda_q, mamba_q / cuda_q, mamba_ms, cuda_ms, mamba_ms / cuda_ms, host_us,
            call_engine_us, host_us - call_engine_us, mamba_host, host_ms, diff))
    print("Python-side overhead per call (host time around the call - the engine's time for the op), median over "
          "shapes: %.0f us [%s the 50 us bound]" % (statistics.median(over), "within" if statistics.median(over) <= 50
                                                    else "over"))
    print("copies into shared memory during the run (ss2d.shared of each input once): %d" % ss2d.stats()["copies_in"])


if __name__ == "__main__":
    main()
