#!/usr/bin/env python3
"""Golden gradients for the ss2d conformance suite: PyTorch autograd in float64.

The forward ops are make_golden.py's own torch formulations (the selective scan as the sequential
recurrence, SS2D v05_noz and the VSS block with torch's conv2d / layer_norm / GELU); autograd of
those, in float64, gives every gradient. Nothing here is derived by hand, so these files check the
Java reference's hand-written adjoint (reference/ScanBackwardRef and friends) independently.

Each file is a backward case of docs/case-files.md: the forward's input columns (float32), `dout`
(and `dlast_state` where the case sends a gradient into the final state), and the expected float64
columns `grad.<name>` for every input, each shaped as its input.

    python3 make_backward_golden.py --out ../golden-backward   # writes the .arrow files and MANIFEST.json there
    python3 make_backward_golden.py --check            # self-checks only (torch.autograd.gradcheck)

Needs torch (CPU is enough) and, for writing, pyarrow >= 12.
"""
import argparse
import hashlib
import json
import math
import os
import sys

import numpy as np
import torch

from make_golden import (F64, Rng, scan_inputs, scan_recurrence, ss2d_forward, ss2d_params, vss_forward,
                         vss_params, write_case)

SCAN_ORDER = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


def scan_loss(t, softplus, dout, dlast):
    out, last = scan_recurrence(t["u"], t["delta"], t["A"], t["B"], t["C"], D=t.get("D"), z=t.get("z"),
                                delta_bias=t.get("delta_bias"), softplus=softplus)
    loss = (out * dout).sum()
    if dlast is not None:
        loss = loss + (last * dlast).sum()
    return loss


def grads(inputs, loss_fn):
    """Autograd of loss_fn over fresh float64 leaves holding the inputs; returns {"grad.<name>": tensor}."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in inputs.items()}
    loss = loss_fn(leaves)
    loss.backward()
    return {"grad." + k: leaves[k].grad.detach() for k in inputs}


def scan_bwd_case(name, seed, dlast=False, **kw):
    rng = Rng(seed)
    softplus = kw.get("softplus", True)
    t = scan_inputs(rng, **kw)
    t = {k: t[k] for k in SCAN_ORDER if k in t}
    batch, dim, L = t["u"].shape
    dout = rng.normal((batch, dim, L))
    dl = rng.normal((batch, dim, t["A"].shape[1])) if dlast else None
    expected = grads(t, lambda x: scan_loss(x, softplus, dout, dl))
    inputs = dict(t, dout=dout)
    if dl is not None:
        inputs["dlast_state"] = dl
    return dict(name=name, kind="selective_scan_backward", inputs=inputs, expected=expected,
                options={"delta_softplus": softplus, "return_last_state": dlast})


def block_bwd_case(name, kind, seed, batch, dm, N, ratio, bias, H, W):
    rng = Rng(seed)
    p = ss2d_params(rng, dm, N, ratio, bias) if kind == "ss2d_backward" else vss_params(rng, dm, N, ratio, bias)
    x = rng.normal((batch, dm, H, W))
    dout = rng.normal((batch, dm, H, W))
    fwd = ss2d_forward if kind == "ss2d_backward" else vss_forward
    inputs = {"x": x, **p}

    def loss(leaves):
        q = {k: v for k, v in leaves.items() if k != "x"}
        return (fwd(q, leaves["x"]) * dout).sum()

    expected = grads(inputs, loss)
    opts = {"d_state": N, "dt_rank": math.ceil(dm / 16), "ssm_ratio": ratio, "d_conv": 3, "conv_bias": bias}
    if kind == "vss_block_backward":
        opts["mlp_ratio"] = 4.0
    return dict(name=name, kind=kind, inputs=dict(inputs, dout=dout), expected=expected, options=opts)


def cases():
    out = []
    add = out.append
    add(scan_bwd_case("scan_bwd_const_bc_d_bias_softplus", 1101, batch=2, dim=4, L=33, N=4, bmode="const",
                      cmode="const"))
    add(scan_bwd_case("scan_bwd_var_bc_z_nosoftplus", 1102, batch=2, dim=6, L=40, N=8, D=False, z=True, bias=False,
                      softplus=False))
    add(scan_bwd_case("scan_bwd_grouped2_all_options_dlast", 1103, dlast=True, batch=2, dim=8, L=67, N=5, G=2,
                      bmode="grouped", cmode="grouped", z=True))
    add(scan_bwd_case("scan_bwd_const_b_var_c_dlast", 1104, dlast=True, batch=1, dim=5, L=31, N=2, bmode="const",
                      cmode="var"))
    add(scan_bwd_case("scan_bwd_grouped1_b_const_c", 1105, batch=2, dim=3, L=2, N=1, G=1, bmode="grouped",
                      cmode="const", z=True, bias=False))
    add(scan_bwd_case("scan_bwd_grouped4_n1_l300", 1106, batch=1, dim=8, L=300, N=1, G=4, bmode="grouped",
                      cmode="grouped"))
    add(scan_bwd_case("scan_bwd_seqlen1_dlast", 1107, dlast=True, batch=2, dim=4, L=1, N=4, bmode="var",
                      cmode="grouped", G=1))
    # softplus inputs just under, at and over the threshold (bias off: delta itself is what softplus sees)
    rng = Rng(1108)
    edge = torch.tensor([19.0, 19.999, 20.0, 20.001, 21.0, 30.0, -30.0, 0.0], dtype=torch.float32).to(F64)
    add(scan_bwd_case("scan_bwd_softplus_threshold", 1108, batch=1, dim=6, L=8, N=2, bias=False, bmode="const",
                      cmode="var", delta=edge.repeat(1, 6, 1), A=rng.uniform((6, 2), -0.2, -0.01)))
    for name, kind, seed, batch, dm, N, ratio, bias, H, W in (
            ("ss2d_bwd_d8_n1_r1_5x6", "ss2d_backward", 1301, 2, 8, 1, 1.0, False, 5, 6),
            ("ss2d_bwd_d12_n4_r2_bias_3x7", "ss2d_backward", 1302, 1, 12, 4, 2.0, True, 3, 7),
            ("vss_bwd_d8_n1_r1_5x6", "vss_block_backward", 1401, 2, 8, 1, 1.0, False, 5, 6),
            ("vss_bwd_d12_n2_r2_bias_3x3", "vss_block_backward", 1402, 1, 12, 2, 2.0, True, 3, 3)):
        add(block_bwd_case(name, kind, seed, batch, dm, N, ratio, bias, H, W))
    return out


def self_check():
    """Autograd of the recurrence agrees with finite differences (gradcheck, float64) for every option."""
    for seed, (kw, dlast) in enumerate([
            (dict(batch=2, dim=4, L=6, N=2, bmode="const", cmode="const"), True),
            (dict(batch=1, dim=4, L=5, N=3, G=2, bmode="grouped", cmode="grouped", z=True), True),
            (dict(batch=2, dim=3, L=4, N=2, bmode="var", cmode="const", softplus=False, bias=False, z=True), False)]):
        rng = Rng(1900 + seed)
        sp = kw.get("softplus", True)
        t = scan_inputs(rng, **kw)
        names = [k for k in SCAN_ORDER if k in t]
        dout = rng.normal(t["u"].shape)
        dl = rng.normal((t["u"].shape[0], t["u"].shape[1], t["A"].shape[1])) if dlast else None

        def f(*xs):
            return scan_loss(dict(zip(names, xs)), sp, dout, dl)

        leaves = tuple(t[k].clone().requires_grad_(True) for k in names)
        assert torch.autograd.gradcheck(f, leaves, eps=1e-6, atol=1e-7, rtol=1e-6), kw
    print("self-check ok (autograd of the scan recurrence vs finite differences, gradcheck)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="output folder")
    ap.add_argument("--check", action="store_true", help="only run the self-checks")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))
    print(f"torch {torch.__version__}, numpy {np.__version__}")
    self_check()
    all_cases = cases()
    for c in all_cases:
        assert all(torch.isfinite(v).all() for v in c["expected"].values()), c["name"]
        worst = max(v.abs().max().item() for v in c["expected"].values())
        print(f"  {c['kind']:24s} {c['name']:38s} max|grad| {worst:.3e}")
    if args.check or not args.out:
        return
    import pyarrow as pa
    os.makedirs(args.out, exist_ok=True)
    manifest = {"torch": torch.__version__, "pyarrow": pa.__version__, "numpy": np.__version__, "files": {}}
    for c in all_cases:
        path = os.path.join(args.out, c["name"] + ".arrow")
        write_case(path, c, note="golden gradients from conformance/golden/make_backward_golden.py "
                                 "(torch float64 autograd)")
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        manifest["files"][c["name"] + ".arrow"] = {"kind": c["kind"], "options": c["options"], "sha256": digest,
                                                   "bytes": os.path.getsize(path)}
    with open(os.path.join(args.out, "MANIFEST.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    total = sum(v["bytes"] for v in manifest["files"].values())
    print(f"wrote {len(all_cases)} files, {total / 1e6:.2f} MB, to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
