#!/usr/bin/env python3
"""Golden vectors for whole VMamba models, computed by VMamba's own model code (PyTorch, CPU, fp32).

The model is VMamba's `VSSM` (and `Backbone_VSSM` for `features_only`) from a checkout of
MzeroMiko/VMamba that the caller names; none of its code is copied here. On a CPU-only PyTorch
its selective scan runs the pure-PyTorch recurrence (`selective_scan_torch`: no CUDA extension can
load) and CrossScan/CrossMerge run their PyTorch autograd functions (this script turns
csm_triton's WITH_TRITON off and checks that no scan extension loaded before it writes anything). timm and fvcore are imported by
vmamba.py for DropPath, trunc_normal_ and FLOP counting only, triton by csm_triton.py for kernels that
never run on CPU, mamba2 for variants not made here: this script puts small stand-ins for them in `sys.modules` (nothing is written into the checkout or the repository).

Every parameter is redrawn from a seeded generator, including those that VMamba's init leaves at 0
or 1 (norm weights and biases, head bias, Ds), so that a wrong layout of any of them changes the
output. The model runs in eval mode without gradients. VMamba's scan casts to float32 internally
(`u.float()`, `A_logs.to(torch.float)`), so there is no float64 run of its code: these files are
fp32 goldens and the float64 reference is checked against them at 1e-5 of max |logit|.

Files follow the case-file contract (kind `vmamba`): `x` (batch, 3, H, W), every parameter under
its state-dict name, options `variant` (a released name) or the explicit fields, and the expected
`logits` (batch, num_classes), or `features.0` .. `features.3` for a `features_only` case.
Expected outputs are stored as float32 (what VMamba computed), inputs as float32.

    python3 make_vmamba_golden.py --vmamba PATH/TO/VMamba --out DIR --set small     # the committed ones
    python3 make_vmamba_golden.py --vmamba PATH/TO/VMamba --out DIR --set released  # nine full-size models
    python3 make_vmamba_golden.py --vmamba PATH/TO/VMamba --out DIR --only vmamba_tiny_s1l8_64

Needs torch (CPU), numpy and pyarrow >= 12.
"""
import argparse
import contextlib
import hashlib
import importlib.util
import json
import math
import os
import sys
import time
import types

import numpy as np
import torch
import torch.nn as nn

RELEASED = ["vmamba_tiny_s1l8", "vmamba_small_s1l20", "vmamba_base_s1l20",
            "vmamba_tiny_s2l5", "vmamba_small_s2l15", "vmamba_base_s2l15",
            "vanilla_vmamba_tiny", "vanilla_vmamba_small", "vanilla_vmamba_base"]


# ----------------------------------------------------------------------------- importing VMamba's code

def _install_stand_ins():
    """timm / fvcore / einops stand-ins: vmamba.py needs DropPath and trunc_normal_ at import time."""
    if "timm" not in sys.modules:
        class DropPath(nn.Module):          # identity in eval mode, which is all we run
            def __init__(self, drop_prob=0.0):
                super().__init__()
                self.drop_prob = drop_prob

            def forward(self, x):
                return x
        timm = types.ModuleType("timm")
        models = types.ModuleType("timm.models")
        layers = types.ModuleType("timm.models.layers")
        layers.DropPath = DropPath
        layers.trunc_normal_ = nn.init.trunc_normal_
        timm.models, models.layers = models, layers
        sys.modules.update({"timm": timm, "timm.models": models, "timm.models.layers": layers})
    if "fvcore" not in sys.modules:
        fv = types.ModuleType("fvcore")
        fvnn = types.ModuleType("fvcore.nn")

        def _unavailable(*a, **k):
            raise RuntimeError("FLOP counting is not available in the golden generator")
        for n in ["FlopCountAnalysis", "flop_count_str", "flop_count", "parameter_count"]:
            setattr(fvnn, n, _unavailable)
        fv.nn = fvnn
        sys.modules.update({"fvcore": fv, "fvcore.nn": fvnn})
    try:
        import triton  # noqa: F401
    except ImportError:
        # csm_triton.py decorates its kernels with @triton.jit at import time even when it then
        # falls back to PyTorch; a decorator that returns the function lets it import. The kernels
        # are never launched: load_vmamba turns csm_triton.WITH_TRITON off.
        tr = types.ModuleType("triton")
        tl = types.ModuleType("triton.language")
        def _annotation(name):     # tl.tensor, tl.constexpr in the kernels' signatures
            if name.startswith("__"):
                raise AttributeError(name)
            return object
        tl.__getattr__ = _annotation
        tr.stand_in = tl.stand_in = True
        tr.jit = lambda fn=None, **kw: fn if fn is not None else (lambda f: f)
        tr.cdiv = lambda a, b: -(-a // b)
        tr.language = tl
        sys.modules.update({"triton": tr, "triton.language": tl})
    # vmamba.py imports mamba2.ssd_minimal for its Mamba-2 variants (m0), which need Triton and CUDA;
    # none of the models here uses it.
    m2 = types.ModuleType("mamba2")
    ssd = types.ModuleType("mamba2.ssd_minimal")

    def _no_mamba2(*a, **k):
        raise RuntimeError("VMamba's Mamba-2 variants are not part of these golden vectors")
    ssd.selective_scan_chunk_fn = _no_mamba2
    m2.ssd_minimal = ssd
    sys.modules.update({"mamba2": m2, "mamba2.ssd_minimal": ssd})


def load_vmamba(checkout):
    models_dir = os.path.join(checkout, "classification", "models")
    path = os.path.join(models_dir, "vmamba.py")
    if not os.path.isfile(path):
        sys.exit(f"--vmamba: expected a VMamba checkout with classification/models/vmamba.py, found none at {checkout}")
    _install_stand_ins()
    sys.path.insert(0, models_dir)      # vmamba.py falls back to `from csms6s import ...`
    # CrossScan/CrossMerge enter `torch.cuda.device(x.device)` even for CPU tensors; on a CPU-only
    # torch that context manager rejects a CPU device, so it is made a no-op for CPU devices here.
    real_device = torch.cuda.device

    class _CpuTolerantDevice(real_device):
        def __init__(self, device):
            if isinstance(device, torch.device) and device.type == "cpu":
                self.idx, self.prev_idx = -1, -1
            else:
                super().__init__(device)
    torch.cuda.device = _CpuTolerantDevice
    spec = importlib.util.spec_from_file_location("vmamba", path)
    vm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vm)
    # The triton stand-in has served csm_triton's import; torch itself probes for triton (optimizers,
    # inductor), so it must not stay in sys.modules.
    for m in [m for m in sys.modules if (m == "triton" or m.startswith("triton.")) and
              getattr(sys.modules[m], "stand_in", False)]:
        del sys.modules[m]
    csms6s = sys.modules["csms6s"]
    csm = sys.modules["csm_triton"]
    if csms6s.WITH_SELECTIVESCAN_OFLEX or csms6s.WITH_SELECTIVESCAN_CORE or csms6s.WITH_SELECTIVESCAN_MAMBA:
        sys.exit("a CUDA selective-scan extension is importable: this generator wants VMamba's PyTorch scan")
    csm.WITH_TRITON = False    # cross_scan_fn / cross_merge_fn read it per call: always the PyTorch path
    return vm


def git_head(checkout):
    try:
        import subprocess
        return subprocess.run(["git", "-C", checkout, "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except Exception:
        return "unknown"


# ----------------------------------------------------------------------------- configurations

# Explicit fields of the case-file contract -> VSSM keyword arguments. The norm layer follows the
# forward type as in the released models: v05_noz is channels-first (LayerNorm2d), v0 channels-last.
def vssm_kwargs(fields):
    fwd = fields["forward_type"]
    return dict(
        depths=fields["depths"], dims=fields["dims"], num_classes=fields["num_classes"],
        patch_size=4, in_chans=3, drop_path_rate=0.1,
        ssm_d_state=fields["d_state"], ssm_ratio=fields["ssm_ratio"], ssm_dt_rank="auto",
        ssm_act_layer="silu", ssm_conv=3, ssm_conv_bias=(fwd == "v0"), ssm_drop_rate=0.0,
        ssm_init="v0", forward_type=fwd,
        mlp_ratio=fields["mlp_ratio"], mlp_act_layer="gelu", mlp_drop_rate=0.0, gmlp=False,
        patch_norm=True, norm_layer=("ln" if fwd == "v0" else "ln2d"),
        downsample_version=fields["downsample"], patchembed_version=fields["patch_embed"],
        use_checkpoint=False, posembed=False, imgsize=224,
    )


# Reduced widths and depths that together take every code path of the nine released models
# (both forward types, d_state 1 and > 1, ssm_ratio 1 and 2, with and without MLP, patch embedding
# v1/v2, downsampling v1/v2/v3, channels-first and channels-last norms, odd and non-square maps).
SMALL = [
    # name, fields, (batch, H, W), features_only
    ("small_v05_s1_pe2_ds3", dict(dims=[16, 24, 32, 48], depths=[1, 2, 2, 1], d_state=1, ssm_ratio=1.0,
                                  mlp_ratio=4.0, forward_type="v05_noz", patch_embed="v2", downsample="v3",
                                  num_classes=10), (2, 64, 64), False),
    ("small_v05_s2_pe1_ds2", dict(dims=[16, 32, 48, 64], depths=[1, 1, 2, 1], d_state=4, ssm_ratio=2.0,
                                  mlp_ratio=2.0, forward_type="v05_noz", patch_embed="v1", downsample="v2",
                                  num_classes=7), (2, 40, 56), False),
    # VMamba's channels-first PatchMerging2D pads the wrong axes for odd maps (its pad tuple is the
    # channels-last one), so this case keeps every map it merges even; the channels-last v0 cases
    # below merge odd maps (padded as VMamba does).
    ("small_v05_ds1", dict(dims=[12, 24, 36, 48], depths=[1, 1, 1, 1], d_state=2, ssm_ratio=1.0,
                               mlp_ratio=4.0, forward_type="v05_noz", patch_embed="v2", downsample="v1",
                               num_classes=5), (2, 64, 32), False),
    ("small_v0_pe1_ds1", dict(dims=[8, 16, 32, 64], depths=[1, 2, 1, 1], d_state=4, ssm_ratio=2.0,
                              mlp_ratio=0.0, forward_type="v0", patch_embed="v1", downsample="v1",
                              num_classes=6), (2, 64, 48), False),
    ("small_v0_mlp_pe2_ds3", dict(dims=[16, 24, 32, 40], depths=[1, 1, 1, 1], d_state=2, ssm_ratio=1.0,
                                  mlp_ratio=2.0, forward_type="v0", patch_embed="v2", downsample="v3",
                                  num_classes=4), (1, 36, 52), False),
    ("small_v05_features", dict(dims=[16, 24, 32, 48], depths=[1, 1, 2, 1], d_state=1, ssm_ratio=1.0,
                                mlp_ratio=4.0, forward_type="v05_noz", patch_embed="v2", downsample="v3",
                                num_classes=10), (2, 64, 64), True),
    ("small_v0_features", dict(dims=[8, 16, 24, 32], depths=[1, 1, 1, 1], d_state=4, ssm_ratio=2.0,
                               mlp_ratio=0.0, forward_type="v0", patch_embed="v1", downsample="v1",
                               num_classes=3), (1, 48, 48), True),
]


def released_cases():
    out = []
    for name in RELEASED:
        out.append((f"{name}_64", name, (2, 64, 64), False))
        if "tiny" in name:
            out.append((f"{name}_224", name, (1, 224, 224), False))
    out.append(("vmamba_tiny_s1l8_features_64", "vmamba_tiny_s1l8", (2, 64, 64), True))
    return out


# ----------------------------------------------------------------------------- weights

def randomise(model, seed):
    """Redraw every parameter from a seeded generator, at scales that keep activations O(1)."""
    g = torch.Generator().manual_seed(seed)

    def randn(shape):
        return torch.randn(shape, generator=g, dtype=torch.float64)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "A_logs":             # A = -exp(A_logs): init log(1..N), kept near it
                v = p.double() + 0.2 * randn(p.shape)
            elif leaf == "Ds":
                v = 1.0 + 0.5 * randn(p.shape)
            elif leaf == "dt_projs_bias":    # init: softplus^-1 of dt in [1e-3, 0.1]
                v = p.double() + 0.3 * randn(p.shape)
            elif leaf == "dt_projs_weight":  # (K, d_inner, dt_rank)
                v = randn(p.shape) / math.sqrt(p.shape[-1])
            elif leaf == "x_proj_weight":    # (K, dt_rank + 2 N, d_inner)
                v = randn(p.shape) / math.sqrt(p.shape[-1])
            elif p.dim() == 1 and leaf == "weight":   # LayerNorm weights
                v = 1.0 + 0.2 * randn(p.shape)
            elif p.dim() == 1:                         # every bias
                v = 0.1 * randn(p.shape)
            else:                                      # Linear / conv weights: fan-in scaling
                v = randn(p.shape) / math.sqrt(p[0].numel())
            p.copy_(v.to(p.dtype))


# ----------------------------------------------------------------------------- writing

def write_case(path, kind, options, columns, note):
    import pyarrow as pa
    fields, arrays = [], []
    for name, arr in columns:
        arr = np.ascontiguousarray(arr)
        storage = pa.FixedSizeListArray.from_arrays(pa.array(arr.reshape(-1)), int(arr.size))
        ttype = pa.fixed_shape_tensor(pa.from_numpy_dtype(arr.dtype), list(arr.shape))
        fields.append(pa.field(name, ttype))
        arrays.append(pa.ExtensionArray.from_storage(ttype, storage))
    meta = {"ss2d.kind": kind, "ss2d.options": json.dumps(options), "ss2d.note": note}
    schema = pa.schema(fields, metadata=meta)
    tmp = path + ".tmp"
    with pa.OSFile(tmp, "wb") as sink:
        with pa.ipc.new_file(sink, schema) as w:
            w.write_batch(pa.record_batch(arrays, schema=schema))
    os.replace(tmp, path)


def make_case(vm, name, config, shape, features_only, seed, head):
    """config: a released name (str) or a dict of explicit fields."""
    torch.manual_seed(seed)
    if isinstance(config, str):
        kwargs = _released_kwargs(vm, config)
        options = {"variant": config}
    else:
        kwargs = vssm_kwargs(config)
        options = dict(config)
    if features_only:
        model = vm.Backbone_VSSM(out_indices=(0, 1, 2, 3), pretrained=None, **kwargs)
        options["features_only"] = True
    else:
        model = vm.VSSM(**kwargs)
    model.eval()
    randomise(model, seed)
    batch, H, W = shape
    x = torch.randn(batch, 3, H, W, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        out = model(x)
    cols = [("x", x.numpy())]
    cols += [(k, v.detach().numpy()) for k, v in model.state_dict().items()]
    if features_only:
        expected = [(f"features.{i}", o.numpy()) for i, o in enumerate(out)]
    else:
        expected = [("logits", out.numpy())]
    for k, v in expected:
        if not np.all(np.isfinite(v)):
            sys.exit(f"{name}: {k} is not finite")
    note = (f"golden vector from VMamba's own model code (commit {head}), CPU fp32, PyTorch scan and "
            f"CrossScan, seed {seed}, by conformance/vmamba-golden/make_vmamba_golden.py")
    return options, cols + expected, note, expected


def block_cases(vm, name, fields, shape, seed, out_dir, head):
    """Every VSS block of a v05_noz model as a `vss_block` case (its input and output captured from
    the whole model's forward): a per-block check of the engine's existing block against VMamba."""
    kwargs = vssm_kwargs(fields)
    torch.manual_seed(seed)
    model = vm.VSSM(**kwargs).eval()
    randomise(model, seed)
    captured = []
    for i, layer in enumerate(model.layers):
        for j, blk in enumerate(layer.blocks):
            blk.register_forward_hook(lambda m, a, o, i=i, j=j: captured.append((i, j, a[0].clone(), o.clone())))
    batch, H, W = shape
    x = torch.randn(batch, 3, H, W, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        model(x)
    sd = model.state_dict()
    written = []
    for i, j, xin, xout in captured:
        prefix = f"layers.{i}.blocks.{j}."
        cols = [("x", xin.numpy())]
        cols += [(k[len(prefix):], v.numpy()) for k, v in sd.items() if k.startswith(prefix)]
        cols += [("out", xout.numpy())]
        path = os.path.join(out_dir, f"{name}_block{i}.{j}.arrow")
        write_case(path, "vss_block", {"mlp_ratio": fields["mlp_ratio"]}, cols,
                   f"block {prefix} of {name}, from VMamba's own model code (commit {head})")
        written.append(path)
    return written


def _released_kwargs(vm, name):
    """The keyword arguments a released builder passes to VSSM (captured by a stand-in class)."""
    captured = {}
    real = vm.VSSM

    class Capture:
        def __init__(self, **kw):
            captured.update(kw)
    vm.VSSM = Capture
    try:
        getattr(vm, name)()
    finally:
        vm.VSSM = real
    return captured


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vmamba", required=True, help="a checkout of MzeroMiko/VMamba")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--set", choices=["small", "released", "all"], default="small")
    ap.add_argument("--only", nargs="*", help="case names to (re)write")
    ap.add_argument("--seed", type=int, default=20261205)
    ap.add_argument("--commit", help="VMamba's commit, recorded in the files (default: git rev-parse of --vmamba)")
    ap.add_argument("--blocks", action="store_true",
                    help="instead: every VSS block of the small v05_noz models as vss_block cases, in OUT/blocks")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))
    vm = load_vmamba(args.vmamba)
    head = args.commit or git_head(args.vmamba)
    cases = []
    if args.set in ("small", "all"):
        cases += [(n, f, s, fo) for n, f, s, fo in SMALL]
    if args.set in ("released", "all"):
        cases += released_cases()
    if args.blocks:
        d = os.path.join(args.out, "blocks")
        os.makedirs(d, exist_ok=True)
        for n, f, s, fo in SMALL:
            if f["forward_type"] == "v05_noz" and not fo:
                for p in block_cases(vm, n, f, s, args.seed, d, head):
                    print(p)
        return
    if args.only:
        cases = [c for c in cases if c[0] in args.only]
    os.makedirs(args.out, exist_ok=True)
    manifest_path = os.path.join(args.out, "MANIFEST.json")
    manifest = {"files": {}}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    manifest.update(torch=torch.__version__, vmamba_commit=head)
    for i, (name, config, shape, features_only) in enumerate(cases):
        t0 = time.time()
        seed = args.seed + 1000 * (zlib_crc(name) % 1000)
        options, cols, note, expected = make_case(vm, name, config, shape, features_only, seed, head)
        path = os.path.join(args.out, name + ".arrow")
        write_case(path, "vmamba", options, cols, note)
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        size = os.path.getsize(path)
        manifest["files"][name + ".arrow"] = dict(kind="vmamba", options=options, bytes=size, sha256=digest,
                                                  input=list(cols[0][1].shape), seed=seed,
                                                  max_abs={k: float(np.abs(v).max()) for k, v in expected})
        print(f"{name}: {size / 1e6:.2f} MB, {', '.join(f'{k} {list(v.shape)}' for k, v in expected)}, "
              f"{time.time() - t0:.1f} s", flush=True)
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)


def zlib_crc(s):
    import zlib
    return zlib.crc32(s.encode())


if __name__ == "__main__":
    main()
