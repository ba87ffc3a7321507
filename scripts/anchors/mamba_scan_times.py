#!/usr/bin/env python3
"""Times mamba's own selective-scan CUDA kernels (forward, optionally backward) on the shapes S1..S5, as an anchor
measured in the same run as ours: CUDA events around a loop of calls, after a warm-up, on device-resident inputs.

mamba's extension is not part of this repository and this script does not build it: pass the folder where a
`selective_scan_cuda` module built from mamba's public source lives (--module-dir). Inputs follow `ss2d bench scan`:
u, delta (batch, dim, L) in the chosen dtype, A (dim, N) float32, grouped B, C (batch, G, N, L) in the dtype, D and
delta_bias float32, softplus on, no z. Prints one JSON object per line.
"""
import argparse
import json
import sys

SHAPES = {"S1": (32, 768, 4, 3136, 1), "S2": (32, 768, 4, 3136, 16), "S3": (32, 1536, 4, 784, 1),
          "S4": (32, 3072, 4, 196, 1), "S5": (8, 2048, 1, 4096, 16)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module-dir", required=True, help="folder holding mamba's built selective_scan_cuda module")
    ap.add_argument("--shapes", nargs="*", default=list(SHAPES))
    ap.add_argument("--dtypes", nargs="*", default=["fp32"], choices=["fp32", "bf16", "fp16"])
    ap.add_argument("--backward", action="store_true", help="also time the backward (mamba's bwd from the fwd's saved x)")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--reps", type=int, default=50)
    a = ap.parse_args()
    import torch
    sys.path.insert(0, a.module_dir)
    import selective_scan_cuda as ssc
    dev = torch.device("cuda")
    dt = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    g = torch.Generator(device=dev).manual_seed(42)

    def uni(lo, hi, *shape, dtype=torch.float32):
        return (torch.rand(*shape, generator=g, device=dev) * (hi - lo) + lo).to(dtype)

    def time_ms(fn):
        for _ in range(a.warmup):
            fn()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        start.record()
        for _ in range(a.reps):
            fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / a.reps

    for name in a.shapes:
        bt, dm, gr, ln, n = SHAPES[name]
        for dn in a.dtypes:
            t = dt[dn]
            u, delta = uni(-1, 1, bt, dm, ln, dtype=t), uni(-4, 1, bt, dm, ln, dtype=t)
            A = uni(-2, -0.1, dm, n)
            B, C = uni(-1, 1, bt, gr, n, ln, dtype=t), uni(-1, 1, bt, gr, n, ln, dtype=t)
            D, bias = uni(0.5, 1.5, dm), uni(-1, 0.5, dm)
            fwd = lambda: ssc.fwd(u, delta, A, B, C, D, None, bias, True)
            ms = time_ms(fwd)
            el = 2 if t != torch.float32 else 4
            moved = el * (3.0 * bt * dm * ln + 2.0 * bt * gr * n * ln) + 4.0 * (dm * n + 2 * dm)
            row = {"anchor": "mamba", "commit_file": "COMMIT", "shape": name, "dims": [bt, dm, gr, ln, n], "dtype": dn,
                   "fwd_ms": round(ms, 4), "fwd_gbps": round(moved / ms / 1e6, 1),
                   "device": torch.cuda.get_device_name(), "torch": torch.__version__}
            if a.backward:
                out, x, *_ = fwd()
                dout = uni(-1, 1, bt, dm, ln, dtype=t)
                row["bwd_ms"] = round(time_ms(lambda: ssc.bwd(u, delta, A, B, C, D, None, bias, dout, x, out, None,
                                                              True, False)), 4)
                del out, x, dout
            print(json.dumps(row), flush=True)
            del u, delta, A, B, C, D, bias
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
