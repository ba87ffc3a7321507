#!/usr/bin/env python3
"""Times VMamba's own classification models (its PyTorch model code with its CUDA selective-scan extension "oflex"
and its Triton CrossScan/CrossMerge) on the GPU, as the anchor for `ss2d bench model` measured in the same run:
eval mode, no grad, random weights and images, --warmup untimed then --reps timed batches between two
synchronisations; images/s and peak device memory (torch.cuda.max_memory_allocated).

Modes: fp32 (TF32 off for matmul and cuDNN), tf32 (PyTorch's defaults: cuDNN may use TF32), bf16
(torch.autocast(bfloat16)). VMamba is not part of this repository and this script builds nothing: pass a checkout
of MzeroMiko/VMamba (--vmamba) and the folder of a built selective_scan_cuda_oflex module (--module-dir). timm and
fvcore, which vmamba.py imports only for DropPath/trunc_normal_ and FLOP counting, are replaced by small stand-ins.
Prints one JSON object per line.
"""
import argparse
import json
import os
import sys
import time
import types


def stand_ins():
    import torch
    if "timm" not in sys.modules:
        timm, models, layers = (types.ModuleType(n) for n in ("timm", "timm.models", "timm.models.layers"))

        class DropPath(torch.nn.Module):
            def __init__(self, p=0.0):
                super().__init__()

            def forward(self, x):
                return x  # eval only

        layers.DropPath, layers.trunc_normal_ = DropPath, torch.nn.init.trunc_normal_
        timm.models, models.layers = models, layers
        sys.modules.update({"timm": timm, "timm.models": models, "timm.models.layers": layers})
    if "fvcore" not in sys.modules:
        fv, fvnn = types.ModuleType("fvcore"), types.ModuleType("fvcore.nn")
        for n in ("FlopCountAnalysis", "flop_count_str", "flop_count", "parameter_count"):
            setattr(fvnn, n, None)
        fv.nn = fvnn
        sys.modules.update({"fvcore": fv, "fvcore.nn": fvnn})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vmamba", required=True, help="a checkout of MzeroMiko/VMamba (classification/models is used)")
    ap.add_argument("--module-dir", required=True, help="folder holding the built selective_scan_cuda_oflex module")
    ap.add_argument("--models", nargs="*", default=["vmamba_tiny_s1l8"])
    ap.add_argument("--modes", nargs="*", default=["fp32", "tf32", "bf16"], choices=["fp32", "tf32", "bf16"])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--reps", type=int, default=30)
    a = ap.parse_args()
    import torch
    sys.path.insert(0, a.module_dir)
    import selective_scan_cuda_oflex  # noqa: F401  (fail here, not silently on VMamba's slow fallback)
    stand_ins()
    sys.path.insert(0, os.path.join(a.vmamba, "classification", "models"))
    import vmamba
    dev = torch.device("cuda")
    for name in a.models:
        torch.manual_seed(0)
        model = getattr(vmamba, name)().to(dev).eval()
        x = torch.randn(a.batch, 3, a.size, a.size, device=dev)
        for mode in a.modes:
            torch.backends.cuda.matmul.allow_tf32 = False                # PyTorch's default for matmul, in every mode
            torch.backends.cudnn.allow_tf32 = mode != "fp32"             # PyTorch's default (on) except in fp32
            ctx = torch.autocast("cuda", dtype=torch.bfloat16) if mode == "bf16" else torch.autocast("cuda", enabled=False)
            with torch.no_grad(), ctx:
                for _ in range(a.warmup):
                    model(x)
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                t = time.perf_counter()
                for _ in range(a.reps):
                    y = model(x)
                torch.cuda.synchronize()
                dt = time.perf_counter() - t
            print(json.dumps({"anchor": "vmamba", "model": name, "mode": mode, "batch": a.batch, "size": a.size,
                              "images_per_s": round(a.batch * a.reps / dt, 1),
                              "ms_per_batch": round(1000 * dt / a.reps, 3),
                              "peak_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1),
                              "logit0": float(y[0, 0]), "device": torch.cuda.get_device_name(),
                              "torch": torch.__version__}), flush=True)
        del model, x
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
