"""GPU host: an SS2D block built by the package from a PyTorch state dict of CUDA tensors, against a plain
PyTorch SS2D (bench/torch_ss2d.py) whose scan is mamba's selective_scan_cuda, in one process on the same CUDA
tensors.

Per configuration: the plain module (float32, mamba's scan) and ``ss2d.SS2D.from_state_dict(module.state_dict())``
(the engine maps the module's CUDA parameters in place through CUDA IPC; no copy) run on the same input; both
are checked against the same module in float64 with a sequential PyTorch scan (the block budget, 2e-4 of
max|expected|) and against each other (twice that). The comparison is in float32: TF32 is switched off for
PyTorch's matmuls and cuDNN's convolutions (cuDNN uses it by default, which put the plain module 4e-4 off float64).
Copies into host shared memory (``ss2d.stats()["copies_in"]``) are counted at the block's load and during the
calls, per configuration; on CUDA tensors both must be 0.

Times per call with CUDA events around the Python call, median of --reps after a warm-up, each call waited for
before the next (``isolated``); ss2d's calls are stream-ordered by default (synchronous with SS2D_CUDA_SYNC=1),
either way the time includes the round trip to the engine; the engine's own host time per call
(engine_us) is shown too.

    SS2D_ENGINE=dist/ss2d/bin/ss2d python3 python/bench/gpu_ss2d_vs_torch.py --module-dir DIR [--reps 30]

DIR (or $ANCHOR_MAMBA) holds mamba's selective_scan_cuda module built from its public source (as for
gpu_vs_mamba.py); without it the plain module runs with the sequential PyTorch scan (slow, but the comparison
still holds). Exits 1 when an agreement check fails.
"""

import argparse
import copy
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "src"), str(HERE)]

import ss2d  # noqa: E402
import torch_ss2d  # noqa: E402
from _bench import events  # noqa: E402
import _bench  # noqa: E402

BUDGET = 2e-4
# (name, batch, d_model, H, W, d_state): VMamba-T's four stages at 224x224 (ssm_ratio 2, d_state 1), and a
# Mamba-like d_state 16
CONFIGS = {"T1": (1, 96, 56, 56, 1), "T2": (1, 192, 28, 28, 1), "T3": (1, 384, 14, 14, 1), "T4": (1, 768, 7, 7, 1),
           "T1b8": (8, 96, 56, 56, 1), "N16": (2, 96, 32, 32, 16), "tiny": (2, 16, 5, 6, 4)}


def rel(a, e):
    return float((a.double() - e.double()).abs().max() / e.double().abs().max())


def main():
    import torch
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--warm", type=int, default=200, help="untimed block calls per config first (CUDA)")
    ap.add_argument("--configs", help="default: all of %s (T3,T4 without mamba's module)" % ",".join(CONFIGS))
    ap.add_argument("--module-dir", default=os.environ.get("ANCHOR_MAMBA"),
                    help="folder holding mamba's built selective_scan_cuda module (default $ANCHOR_MAMBA)")
    ap.add_argument("--device", default="cuda", help="cuda, or cpu for a dry run of this script (ss2d's cpu backend)")
    a = ap.parse_args()
    dev = a.device
    if dev == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: nothing to compare")
        return 1
    scan, scan_name = torch_ss2d.torch_scan, "sequential PyTorch scan (mamba's module not given)"
    if dev == "cuda":
        # a float32 comparison: no TF32 in PyTorch's matmuls, nor in cuDNN's convolutions (on by default there)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if a.module_dir and dev == "cuda":
        sys.path.insert(0, a.module_dir)
        import selective_scan_cuda
        scan, scan_name = torch_ss2d.mamba_scan(selective_scan_cuda), "mamba's selective_scan_cuda"
    elif a.configs is None:
        a.reps = min(a.reps, 3)          # the sequential scan takes a kernel launch per step: short grids, few reps
    configs = a.configs or (",".join(CONFIGS) if a.module_dir else "T3,T4")
    if dev == "cuda":
        print("engine warm-up (2000 small scans and cross scans on CUDA tensors, so that its JIT compiled the request "
              "path): %.1f s" % _bench.warm_engine(torch))
    from ss2d import _engine
    eng = _engine.engine()
    engine_us = _bench.record_engine_us(eng)
    print("plain PyTorch SS2D with %s; ss2d.SS2D from its state dict (%s tensors); torch %s, %s%s"
          % (scan_name, dev, torch.__version__, torch.cuda.get_device_name() if dev == "cuda" else "CPU dry run",
             "; float32 (TF32 off for matmul and cuDNN)" if dev == "cuda" else ""))
    print("| config (batch, d_model, H, W, d_state) | torch ms | ss2d ms | torch / ss2d | ss2d engine ms | "
          "ss2d vs f64 | torch vs f64 | ss2d vs torch |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    failed = []
    copies = {}
    for name in configs.split(","):
        bt, dm, h, w, n = CONFIGS[name]
        g = torch.Generator(device=dev).manual_seed(1000 + list(CONFIGS).index(name))
        m = torch_ss2d.TorchSS2D(dm, d_state=n, scan=scan).to(dev).randomize(g)
        x = torch.randn(bt, dm, h, w, device=dev, generator=g)
        before = ss2d.stats()
        block = ss2d.SS2D.from_state_dict(m.state_dict())          # CUDA parameters, mapped by the engine in place
        loaded = ss2d.stats()
        with torch.no_grad():
            plain = m(x)
            y = block(x)
            truth_m = copy.deepcopy(m).double()
            truth_m.scan = torch_ss2d.torch_scan
            truth = truth_m(x.double())
            for _ in range(a.warm if dev == "cuda" else 0):    # the engine's JIT compiles the block's request path
                block(x)
            torch_ms = events(torch, lambda: m(x), a.reps, dev)
            engine_us.clear()
            ss2d_ms = events(torch, lambda: block(x), a.reps, dev)
        after = ss2d.stats()
        eng_ms = statistics.median(engine_us[3:]) / 1000
        assert isinstance(y, torch.Tensor) and y.device == x.device, "the output is a tensor on the input's device"
        e_s, e_t, e_st = rel(y, truth), rel(plain, truth), rel(y, plain)
        ok = e_s <= BUDGET and e_t <= BUDGET and e_st <= 2 * BUDGET and bool(torch.isfinite(y).all())
        load_copies = loaded["copies_in"] - before["copies_in"]           # the state dict into shared memory
        call_copies = after["copies_in"] - loaded["copies_in"]            # x, in every call
        copies[name] = (load_copies, call_copies)
        moved = dev == "cuda" and (load_copies or call_copies or after["segments"] != before["segments"])
        if not ok or moved:
            failed.append("%s: ss2d vs f64 %.2e, torch vs f64 %.2e, ss2d vs torch %.2e (budgets %.0e, %.0e, %.0e); "
                          "copies into shared memory: %d at load, %d in the calls"
                          % (name, e_s, e_t, e_st, BUDGET, BUDGET, 2 * BUDGET, load_copies, call_copies))
        print("| %s %s | %.3f | %.3f | %.2fx | %.3f | %.2e | %.2e | %.2e |%s" % (
            name, CONFIGS[name], torch_ms, ss2d_ms, torch_ms / ss2d_ms, eng_ms, e_s, e_t, e_st,
            "" if ok and not moved else " FAIL"))
        block.close()
    total = [sum(c[i] for c in copies.values()) for i in (0, 1)]
    print("copies into shared memory (ss2d.stats()['copies_in']), all configs: %d at load (the state dicts), %d in the "
          "calls (x); outputs are %s" % (total[0], total[1], "torch.empty on the device" if dev == "cuda"
                                          else "views of shared memory"))
    for f in failed:
        print("FAILED " + f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
