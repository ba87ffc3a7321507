#!/usr/bin/env python3
"""Writes the safetensors fixtures of the interop tests, with PyTorch and safetensors.

    python3 interop/scripts/make_safetensors_fixture.py OUT_DIR

Files (all small, < 64 KiB):
  vmamba_blocks.safetensors   two VSS blocks of a tiny VMamba stage under VMamba's state-dict names,
                              float32, as safetensors.torch.save_file writes a checkpoint:
                                layers.0.blocks.0.*  d_model 8, d_state 1, ssm_ratio 2, no conv bias
                                                     (the released v2 configuration, scaled down)
                                layers.0.blocks.1.*  d_model 8, d_state 2, ssm_ratio 2, conv bias
                              __metadata__ holds each block's config.
  vmamba_blocks_expected.safetensors
                              x (2, 8, 5, 6) float32 and, in float64, for each block i:
                                ss2d.i  = SS2D(op weights of block i)(x)
                                vss.i   = VSSBlock(block i)(x)
  dtypes.safetensors          float16 / bfloat16 / float64 tensors with specials (subnormals,
                              +-0, +-inf, NaN, extremes) and PyTorch's float32 upcast of each
                              ("<name>.as_f32"), plus layers.0.blocks.1.op.* in bfloat16 and
                              ss2d_bf16 = SS2D(those bf16 weights upcast)(x) in float64.

Expected outputs are computed twice in float64, with PyTorch's own layers (conv2d, layer_norm,
gelu, softplus) and with the NumPy reference in ss2d_ref.py; the script fails unless both agree.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ss2d_ref  # noqa: E402

D_MODEL, MLP_RATIO, GRID, BATCH = 8, 4.0, (5, 6), 2
BLOCKS = [  # (d_state, ssm_ratio, conv_bias)
    (1, 2.0, False),
    (2, 2.0, True),
]


def config(d_state, ratio, conv_bias):
    d_inner = int(ratio * D_MODEL)
    return dict(d_model=D_MODEL, d_state=d_state, ssm_ratio=ratio, dt_rank=math.ceil(D_MODEL / 16),
                d_conv=3, conv_bias=conv_bias, d_inner=d_inner, mlp_ratio=MLP_RATIO)


def block_weights(g, c):
    """VMamba-like magnitudes, perturbed so that a loader that swaps or ignores a tensor is caught."""
    di, dm, n, r, k = c["d_inner"], c["d_model"], c["d_state"], c["dt_rank"], c["d_conv"]
    hid = int(dm * c["mlp_ratio"])

    def normal(*shape, std=1.0, mean=0.0):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * std + mean

    def uniform(*shape, bound):
        return (torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) * bound

    dt = torch.exp(torch.rand(4, di, generator=g, dtype=torch.float64) * (math.log(0.1) - math.log(0.001))
                   + math.log(0.001)).clamp(min=1e-4)
    p = {
        "norm.weight": normal(dm, std=0.1, mean=1.0),
        "norm.bias": normal(dm, std=0.1),
        "op.in_proj.weight": normal(di, dm, std=dm ** -0.5),
        "op.conv2d.weight": uniform(di, 1, k, k, bound=1.0 / k),
    }
    if c["conv_bias"]:
        p["op.conv2d.bias"] = uniform(di, bound=1.0 / k)
    p.update({
        "op.x_proj_weight": uniform(4, r + 2 * n, di, bound=di ** -0.5),
        "op.dt_projs_weight": uniform(4, di, r, bound=r ** -0.5),
        "op.dt_projs_bias": dt + torch.log(-torch.expm1(-dt)),  # inverse softplus, as mamba_init
        "op.A_logs": torch.log(torch.arange(1, n + 1, dtype=torch.float64)).repeat(4 * di, 1)
                     + normal(4 * di, n, std=0.1),
        "op.Ds": normal(4 * di, std=0.1, mean=1.0),
        "op.out_norm.weight": normal(di, std=0.1, mean=1.0),
        "op.out_norm.bias": normal(di, std=0.1),
        "op.out_proj.weight": normal(dm, di, std=di ** -0.5),
        "norm2.weight": normal(dm, std=0.1, mean=1.0),
        "norm2.bias": normal(dm, std=0.1),
        "mlp.fc1.weight": normal(hid, dm, std=dm ** -0.5),
        "mlp.fc1.bias": normal(hid, std=0.1),
        "mlp.fc2.weight": normal(dm, hid, std=hid ** -0.5),
        "mlp.fc2.bias": normal(dm, std=0.1),
    })
    # Stored as float32: round here so that the float64 expectation uses exactly the stored values.
    return {name: t.float().double() for name, t in p.items()}


# ---------------------------------------------------------------- PyTorch float64 forward

def ln2d(x, w, b):
    return F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), w, b, eps=1e-5).permute(0, 3, 1, 2)


def torch_scan(u, delta, A, Bs, Cs, D, bias):
    """Sequential selective scan, grouped B/C (b, g, n, l), softplus threshold 20."""
    b, d, l = u.shape
    g = Bs.shape[1]
    Bc = Bs.repeat_interleave(d // g, dim=1)
    Cc = Cs.repeat_interleave(d // g, dim=1)
    dt = F.softplus(delta + bias[None, :, None], beta=1, threshold=20)
    h = torch.zeros(b, d, A.shape[1], dtype=torch.float64)
    ys = []
    for t in range(l):
        h = torch.exp(dt[:, :, t, None] * A) * h + (dt[:, :, t] * u[:, :, t])[:, :, None] * Bc[..., t]
        ys.append((h * Cc[..., t]).sum(-1))
    return torch.stack(ys, dim=-1) + D[None, :, None] * u


def torch_ss2d(p, x):
    b, dm, hh, ww = x.shape
    di, n, r = p["in_proj.weight"].shape[0], p["A_logs"].shape[1], p["dt_projs_weight"].shape[2]
    L = hh * ww
    xi = F.conv2d(x, p["in_proj.weight"][:, :, None, None])                         # Linear2d
    k = p["conv2d.weight"].shape[-1]
    xa = F.silu(F.conv2d(xi, p["conv2d.weight"], p.get("conv2d.bias"), padding=(k - 1) // 2, groups=di))
    r0 = xa.flatten(2)
    r1 = xa.transpose(2, 3).flatten(2)
    xs = torch.stack([r0, r1, r0.flip(-1), r1.flip(-1)], dim=1)                    # (b, 4, di, L)
    x_dbl = F.conv1d(xs.reshape(b, 4 * di, L), p["x_proj_weight"].reshape(-1, di, 1), groups=4)  # v05
    dts_r, Bs, Cs = torch.split(x_dbl.view(b, 4, -1, L), [r, n, n], dim=2)
    dts = F.conv1d(dts_r.reshape(b, 4 * r, L), p["dt_projs_weight"].reshape(4 * di, r, 1), groups=4)
    ys = torch_scan(xs.reshape(b, 4 * di, L), dts, -torch.exp(p["A_logs"]), Bs, Cs, p["Ds"],
                    p["dt_projs_bias"].reshape(-1)).view(b, 4, di, L)
    row = ys[:, 0] + ys[:, 2].flip(-1)
    col = (ys[:, 1] + ys[:, 3].flip(-1)).view(b, di, ww, hh).transpose(2, 3).reshape(b, di, L)
    y = (row + col).view(b, di, hh, ww)
    y = ln2d(y, p["out_norm.weight"], p["out_norm.bias"])
    return F.conv2d(y, p["out_proj.weight"][:, :, None, None])


def torch_vss(p, x):
    op = {k[3:]: v for k, v in p.items() if k.startswith("op.")}
    x = x + torch_ss2d(op, ln2d(x, p["norm.weight"], p["norm.bias"]))
    h = F.conv2d(ln2d(x, p["norm2.weight"], p["norm2.bias"]), p["mlp.fc1.weight"][:, :, None, None],
                 p["mlp.fc1.bias"])
    h = F.conv2d(F.gelu(h), p["mlp.fc2.weight"][:, :, None, None], p["mlp.fc2.bias"])  # erf GELU
    return x + h


def both(torch_fn, ref_fn, p, x, what):
    """Runs the PyTorch and the NumPy float64 forward and insists that they agree."""
    a = torch_fn(p, x)
    b = ref_fn({k: v.numpy() for k, v in p.items()}, x.numpy())
    err = np.max(np.abs(a.numpy() - b)) / max(1e-300, np.max(np.abs(b)))
    if not err < 1e-12:
        raise SystemExit(f"{what}: PyTorch and NumPy float64 forwards differ, max rel err {err:.3e}")
    print(f"{what}: shape {tuple(a.shape)}, max |out| {a.abs().max().item():.4f}, torch vs numpy {err:.2e}")
    return a


def specials(dtype):
    fi = torch.finfo(dtype)
    vals = [0.0, -0.0, 1.0, -2.5, fi.max, -fi.max, fi.tiny, fi.tiny / 4, -fi.tiny / 8,
            float("inf"), float("-inf"), float("nan"), 3.14159265, 1e-3, 65504.0 if dtype == torch.float16 else 1e30]
    return torch.tensor(vals, dtype=torch.float64).to(dtype)


def main(out):
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(20261123)
    x = torch.randn(BATCH, D_MODEL, *GRID, generator=g, dtype=torch.float64).float().double()
    weights, expected, meta = {}, {"x": x.float()}, {"format": "pt", "ss2d.forward_type": "v05_noz",
                                                    "ss2d.torch": torch.__version__}
    blocks = []
    for i, (n, ratio, bias) in enumerate(BLOCKS):
        c = config(n, ratio, bias)
        p = block_weights(g, c)
        blocks.append(p)
        meta[f"layers.0.blocks.{i}"] = json.dumps(c)
        for k, v in p.items():
            weights[f"layers.0.blocks.{i}.{k}"] = v.float().contiguous()
        op = {k[3:]: v for k, v in p.items() if k.startswith("op.")}
        expected[f"ss2d.{i}"] = both(torch_ss2d, ss2d_ref.ss2d, op, x, f"block {i} ss2d")
        expected[f"vss.{i}"] = both(torch_vss, ss2d_ref.vss_block, p, x, f"block {i} vss")
    save_file(weights, os.path.join(out, "vmamba_blocks.safetensors"), metadata=meta)
    save_file({k: v.contiguous() for k, v in expected.items()}, os.path.join(out, "vmamba_blocks_expected.safetensors"),
              metadata={"format": "pt", "x": "float32 input", "ss2d.i/vss.i": "float64 outputs of block i"})

    dt = {}
    for name, dtype in (("f16", torch.float16), ("bf16", torch.bfloat16), ("f64", torch.float64)):
        s = specials(dtype)
        r = torch.randn(3, 7, generator=g, dtype=torch.float64).to(dtype)
        dt[f"{name}.specials"] = s
        dt[f"{name}.specials.as_f32"] = s.float()
        dt[f"{name}.random"] = r
        dt[f"{name}.random.as_f32"] = r.float()
    op16 = {k[3:]: v.to(torch.bfloat16) for k, v in blocks[1].items() if k.startswith("op.")}
    for k, v in op16.items():
        dt[f"layers.0.blocks.1.op.{k}"] = v
    up = {k: v.double() for k, v in op16.items()}
    dt["ss2d_bf16"] = both(torch_ss2d, ss2d_ref.ss2d, up, x, "bf16 block 1 ss2d")
    save_file({k: v.contiguous() for k, v in dt.items()}, os.path.join(out, "dtypes.safetensors"),
              metadata={"format": "pt", "layers.0.blocks.1.op": meta["layers.0.blocks.1"]})
    for f in sorted(os.listdir(out)):
        print(f, os.path.getsize(os.path.join(out, f)), "bytes")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fixtures")
