"""GPU host: ss2d.selective_scan against mamba's selective_scan_fn on S1..S5 (fp32, grouped B/C, D, delta_bias,
softplus), one Python process, the same CUDA tensors.

mamba runs on the CUDA tensors, timed with CUDA events (median of --reps after a warm-up). ss2d is called on
the same CUDA tensors first; until the engine opens CUDA IPC handles that raises NotImplementedError, which is
reported as such. ss2d is then timed on the same values held in host shared memory with backend="cuda" (the
engine uploads inputs and downloads outputs: copies that the CUDA-tensor path will remove), with CUDA events
around the Python call (the call blocks until the result is back, so this is its wall time), and checked
against mamba's output (2 * 1e-4 of max|out|, the policy for backend against backend).

    SS2D_ENGINE=dist/ss2d/bin/ss2d python3 python/bench/gpu_vs_mamba.py --module-dir DIR [--reps 50] [--shapes S1,S3]

DIR holds mamba's selective_scan_cuda module built from its public source (as for scripts/anchors/
mamba_scan_times.py); without it, mamba_ssm's selective_scan_fn is used if installed, else only ss2d is timed.
"""

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import ss2d  # noqa: E402

SHAPES = {"S1": (32, 768, 4, 3136, 1), "S2": (32, 768, 4, 3136, 16), "S3": (32, 1536, 4, 784, 1),
          "S4": (32, 3072, 4, 196, 1), "S5": (8, 2048, 1, 4096, 16)}


def events(torch, fn, reps):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b))
    return statistics.median(ts)


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
    print("| shape (Bt, D, G, L, N) | mamba ms (CUDA tensors) | ss2d on CUDA tensors | ss2d ms (host shared, backend cuda) "
          "| mamba / ss2d | max rel diff |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in a.shapes.split(","):
        bt, d, gr, l, n = SHAPES[name]
        u = torch.randn(bt, d, l, device="cuda", generator=g)
        delta = 0.5 * torch.randn(bt, d, l, device="cuda", generator=g)
        A = -torch.rand(d, n, device="cuda", generator=g) * 1.9 - 0.1
        B = torch.randn(bt, gr, n, l, device="cuda", generator=g)
        C = torch.randn(bt, gr, n, l, device="cuda", generator=g)
        D = torch.randn(d, device="cuda", generator=g)
        bias = 0.1 * torch.randn(d, device="cuda", generator=g)
        mamba_ms, mamba_out = float("nan"), None
        if selective_scan_fn is not None:
            run = lambda: selective_scan_fn(u, delta, A, B, C, D, None, bias, True)  # noqa: E731
            mamba_ms = events(torch, run, a.reps)
            mamba_out = run().cpu().numpy()
        try:
            ss2d.selective_scan(u, delta, A, B, C, D, delta_bias=bias, delta_softplus=True, backend="cuda")
            on_cuda = "served"
        except NotImplementedError:
            on_cuda = "NotImplementedError (IPC not served yet)"
        host = {k: ss2d.shared(v.cpu().numpy()) for k, v in dict(u=u, delta=delta, A=A, B=B, C=C, D=D, bias=bias).items()}
        call = lambda: ss2d.selective_scan(host["u"], host["delta"], host["A"], host["B"], host["C"], host["D"],  # noqa: E731
                                           delta_bias=host["bias"], delta_softplus=True, backend="cuda")
        ours_ms = events(torch, call, max(5, a.reps // 5))
        out = call()
        diff = float("nan") if mamba_out is None else float(np.abs(out - mamba_out).max() / np.abs(mamba_out).max())
        print("| %s %s | %.3f | %s | %.3f | %.2fx | %.2e |" % (name, SHAPES[name], mamba_ms, on_cuda, ours_ms,
                                                            mamba_ms / ours_ms, diff))
    print("copies into shared memory during the run (ss2d.shared of each input once): %d" % ss2d.stats()["copies_in"])


if __name__ == "__main__":
    main()
