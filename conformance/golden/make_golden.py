#!/usr/bin/env python3
"""Golden vectors for the ss2d conformance suite, computed in float64 with PyTorch.

This is our own, independent formulation of every op (it shares no code with the Java reference):
the selective scan as the sequential recurrence of spec 1.2 (checked here against the closed form
h_t = sum_{s<=t} exp(A (S_t - S_s)) b_s), CrossScan/CrossMerge by index gathers (checked for
adjointness), SS2D v05_noz with torch's conv2d / layer_norm / einsum, and the VSS block with
torch's erf GELU. Inputs are drawn as float32 (so every backend sees exactly the same values) and
widened to float64; expected outputs are stored as float64 columns `out` (and `last_state`, or
`xs` / `y` for cross cases).

Files follow docs/case-files.md: an Arrow IPC file with one record batch, one row, a
column per tensor as arrow.fixed_shape_tensor (storage FixedSizeList, {"shape": [...]}), and the
schema metadata ss2d.kind and ss2d.options (JSON).

    python3 make_golden.py --out DIR          # writes DIR/*.arrow, DIR/fixtures/*.arrow, DIR/MANIFEST.json
    python3 make_golden.py --check            # math self-checks only (no pyarrow needed)

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

F64 = torch.float64
THRESHOLD = 20.0
LN_EPS = 1e-5


# ----------------------------------------------------------------------------- ops (float64)

def softplus20(x):
    """torch's softplus(beta=1, threshold=20), written out: x <= 20 ? log1p(exp(x)) : x."""
    return torch.where(x <= THRESHOLD, torch.log1p(torch.exp(torch.clamp(x, max=THRESHOLD))), x)


def _bc_per_channel(m, batch, dim, L):
    """B or C as (batch, dim, N, L) whatever its layout (constant, variable, grouped)."""
    if m.dim() == 2:                                   # (dim, N): the same at every step
        return m[None, :, :, None].expand(batch, dim, m.shape[1], L)
    if m.dim() == 3:                                   # (batch, N, L): one group
        return m[:, None, :, :].expand(batch, dim, m.shape[1], L)
    g = m.shape[1]                                     # (batch, G, N, L): channel d uses group d // (dim // G)
    idx = torch.arange(dim) // (dim // g)
    return m[:, idx, :, :]


def _steps(delta, delta_bias, softplus):
    d = delta if delta_bias is None else delta + delta_bias[None, :, None]
    return softplus20(d) if softplus else d


def scan_recurrence(u, delta, A, B, C, D=None, z=None, delta_bias=None, softplus=False):
    """Sequential recurrence over t; returns (out, last_state) with the true h[L-1]."""
    batch, dim, L = u.shape
    dt = _steps(delta, delta_bias, softplus)                    # (b, d, L)
    Bx = _bc_per_channel(B, batch, dim, L)                      # (b, d, N, L)
    Cx = _bc_per_channel(C, batch, dim, L)
    h = torch.zeros(batch, dim, A.shape[1], dtype=F64)
    ys = []
    for t in range(L):
        a = torch.exp(dt[:, :, t, None] * A[None])              # (b, d, N)
        h = a * h + (dt[:, :, t] * u[:, :, t])[:, :, None] * Bx[..., t]
        ys.append((h * Cx[..., t]).sum(-1))
    y = torch.stack(ys, dim=-1)
    if D is not None:
        y = y + D[None, :, None] * u
    if z is not None:
        y = y * z * torch.sigmoid(z)
    return y, h


def scan_closed_form(u, delta, A, B, C, D=None, z=None, delta_bias=None, softplus=False):
    """h_t = sum_{s<=t} exp(A (S_t - S_s)) dt_s u_s B_s, S the running sum of dt (O(L^2), small L only)."""
    batch, dim, L = u.shape
    dt = _steps(delta, delta_bias, softplus)
    S = torch.cumsum(dt, dim=-1)                                # (b, d, L)
    Bx = _bc_per_channel(B, batch, dim, L)
    Cx = _bc_per_channel(C, batch, dim, L)
    diff = S[:, :, :, None] - S[:, :, None, :]                  # (b, d, t, s)
    mask = torch.tril(torch.ones(L, L, dtype=torch.bool))
    decay = torch.exp(A[None, :, :, None, None] * diff[:, :, None, :, :])   # (b, d, N, t, s)
    decay = torch.where(mask, decay, torch.zeros((), dtype=F64))
    bs = (dt * u)[:, :, None, :] * Bx                          # (b, d, N, s)
    h = torch.einsum("bdnts,bdns->bdnt", decay, bs)
    y = (h * Cx).sum(2)
    if D is not None:
        y = y + D[None, :, None] * u
    if z is not None:
        y = y * z * torch.sigmoid(z)
    return y, h[..., -1]


def route_index(k, H, W):
    """Row-major pixel that route k visits at each step (spec 5.2)."""
    L = H * W
    l = torch.arange(L)
    col = (l % H) * W + l // H
    return [l, col, l.flip(0), col.flip(0)][k]


def cross_scan(x):
    b, c, H, W = x.shape
    flat = x.reshape(b, c, H * W)
    return torch.stack([flat[:, :, route_index(k, H, W)] for k in range(4)], dim=1)


def cross_merge(ys, H, W):
    b, _, c, L = ys.shape
    y = torch.zeros(b, c, L, dtype=ys.dtype)
    for k in range(4):
        y.index_add_(2, route_index(k, H, W), ys[:, k])
    return y.reshape(b, c, H, W)


def layer_norm_channels(x, w, b):
    """LayerNorm2d: over the channel axis of (B, C, H, W), eps 1e-5."""
    y = torch.nn.functional.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), w, b, LN_EPS)
    return y.permute(0, 3, 1, 2)


def ss2d_forward(p, x):
    """VMamba SS2Dv2, forward_type v05_noz, channels-first."""
    B_, dm, H, W = x.shape
    di = p["in_proj.weight"].shape[0]
    N = p["A_logs"].shape[1]
    R = p["dt_projs_weight"].shape[2]
    k = p["conv2d.weight"].shape[-1]
    L = H * W
    xi = torch.einsum("oi,bihw->bohw", p["in_proj.weight"], x)
    xc = torch.nn.functional.conv2d(xi, p["conv2d.weight"], p.get("conv2d.bias"), padding=(k - 1) // 2, groups=di)
    xa = torch.nn.functional.silu(xc)
    xs = cross_scan(xa)                                                     # (B, 4, di, L)
    x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, p["x_proj_weight"])
    dts, Bs, Cs = torch.split(x_dbl, [R, N, N], dim=2)
    dts = torch.einsum("bkrl,kdr->bkdl", dts, p["dt_projs_weight"])
    ys, _ = scan_recurrence(xs.reshape(B_, 4 * di, L), dts.reshape(B_, 4 * di, L), -torch.exp(p["A_logs"]),
                            Bs.contiguous(), Cs.contiguous(), D=p["Ds"], delta_bias=p["dt_projs_bias"].reshape(-1),
                            softplus=True)
    y = cross_merge(ys.reshape(B_, 4, di, L), H, W)
    y = layer_norm_channels(y, p["out_norm.weight"], p["out_norm.bias"])
    return torch.einsum("oi,bihw->bohw", p["out_proj.weight"], y)


def vss_forward(p, x):
    op = {k[3:]: v for k, v in p.items() if k.startswith("op.")}
    x1 = x + ss2d_forward(op, layer_norm_channels(x, p["norm.weight"], p["norm.bias"]))
    h = layer_norm_channels(x1, p["norm2.weight"], p["norm2.bias"])
    h = torch.einsum("oi,bihw->bohw", p["mlp.fc1.weight"], h) + p["mlp.fc1.bias"][None, :, None, None]
    h = torch.nn.functional.gelu(h, approximate="none")
    h = torch.einsum("oi,bihw->bohw", p["mlp.fc2.weight"], h) + p["mlp.fc2.bias"][None, :, None, None]
    return x1 + h


# ----------------------------------------------------------------------------- inputs

class Rng:
    """Seeded draws, rounded to float32 so the file holds exactly what the expected values were computed from."""

    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def _f32(self, t):
        return t.to(torch.float32).to(F64)

    def normal(self, shape, std=1.0, mean=0.0):
        return self._f32(mean + std * torch.randn(shape, generator=self.g, dtype=F64))

    def uniform(self, shape, lo, hi):
        return self._f32(lo + (hi - lo) * torch.rand(shape, generator=self.g, dtype=F64))


def bc_shape(mode, batch, dim, N, L, G):
    return {"const": (dim, N), "var": (batch, N, L), "grouped": (batch, G, N, L)}[mode]


def scan_inputs(rng, batch, dim, L, N, G=1, bmode="var", cmode="var", D=True, z=False, bias=True, softplus=True,
                delta=None, A=None):
    t = {"u": rng.normal((batch, dim, L))}
    if delta is None:
        t["delta"] = rng.uniform((batch, dim, L), -4.0, 1.0) if softplus else rng.uniform((batch, dim, L), 0.01, 0.5)
    else:
        t["delta"] = delta
    t["A"] = A if A is not None else rng.uniform((dim, N), -2.0, -0.1)
    t["B"] = rng.normal(bc_shape(bmode, batch, dim, N, L, G))
    t["C"] = rng.normal(bc_shape(cmode, batch, dim, N, L, G))
    if D:
        t["D"] = rng.normal((dim,))
    if z:
        t["z"] = rng.normal((batch, dim, L))
    if bias:
        t["delta_bias"] = rng.normal((dim,), 0.5)
    return t


def ss2d_params(rng, dm, N, ratio, conv_bias, k=3):
    di = int(ratio * dm)
    R = math.ceil(dm / 16)
    dt = torch.exp(rng.uniform((4, di), math.log(1e-3), math.log(1e-1))).clamp(min=1e-4)
    p = {
        "in_proj.weight": rng.normal((di, dm), 1 / math.sqrt(dm)),
        "conv2d.weight": rng.uniform((di, 1, k, k), -1 / k, 1 / k),
        "x_proj_weight": rng.uniform((4, R + 2 * N, di), -1 / math.sqrt(di), 1 / math.sqrt(di)),
        "dt_projs_weight": rng.uniform((4, di, R), -R ** -0.5, R ** -0.5),
        "dt_projs_bias": rng._f32(dt + torch.log(-torch.expm1(-dt))),
        "A_logs": rng._f32(torch.log(torch.arange(1, N + 1, dtype=F64)).repeat(4 * di, 1)
                           + rng.normal((4 * di, N), 0.1)),
        "Ds": rng.normal((4 * di,), 0.1, 1.0),
        "out_norm.weight": rng.normal((di,), 0.1, 1.0),
        "out_norm.bias": rng.normal((di,), 0.1),
        "out_proj.weight": rng.normal((dm, di), 1 / math.sqrt(di)),
    }
    if conv_bias:
        p["conv2d.bias"] = rng.uniform((di,), -1 / k, 1 / k)
    return p


def vss_params(rng, dm, N, ratio, conv_bias, mlp_ratio=4.0):
    h = int(dm * mlp_ratio)
    p = {"op." + k: v for k, v in ss2d_params(rng, dm, N, ratio, conv_bias).items()}
    p.update({
        "norm.weight": rng.normal((dm,), 0.1, 1.0), "norm.bias": rng.normal((dm,), 0.1),
        "norm2.weight": rng.normal((dm,), 0.1, 1.0), "norm2.bias": rng.normal((dm,), 0.1),
        "mlp.fc1.weight": rng.normal((h, dm), 1 / math.sqrt(dm)), "mlp.fc1.bias": rng.normal((h,), 0.02),
        "mlp.fc2.weight": rng.normal((dm, h), 1 / math.sqrt(h)), "mlp.fc2.bias": rng.normal((dm,), 0.02),
    })
    return p


# ----------------------------------------------------------------------------- cases

SCAN_ARGS = ("u", "delta", "A", "B", "C")


def run_scan(t, softplus):
    return scan_recurrence(t["u"], t["delta"], t["A"], t["B"], t["C"], D=t.get("D"), z=t.get("z"),
                           delta_bias=t.get("delta_bias"), softplus=softplus)


def scan_case(name, seed, last=True, **kw):
    rng = Rng(seed)
    softplus = kw.get("softplus", True)
    t = scan_inputs(rng, **kw)
    out, h = run_scan(t, softplus)
    expected = {"out": out}
    if last:
        expected["last_state"] = h
    return dict(name=name, kind="selective_scan", inputs=t, expected=expected,
                options={"delta_softplus": softplus, "return_last_state": last})


def cases():
    out = []
    add = out.append
    add(scan_case("scan_const_bc_d_bias_softplus", 101, batch=2, dim=4, L=33, N=4, bmode="const", cmode="const"))
    add(scan_case("scan_var_bc_z_nosoftplus", 102, batch=2, dim=6, L=64, N=8, D=False, z=True, bias=False,
                  softplus=False))
    add(scan_case("scan_grouped2_all_options", 103, batch=2, dim=8, L=129, N=16, G=2, bmode="grouped",
                  cmode="grouped", z=True))
    add(scan_case("scan_const_b_var_c", 104, last=False, batch=1, dim=5, L=31, N=2, bmode="const", cmode="var"))
    add(scan_case("scan_grouped1_b_const_c", 105, batch=2, dim=3, L=2, N=1, G=1, bmode="grouped", cmode="const",
                  z=True, bias=False))
    add(scan_case("scan_long_grouped4_n1", 106, batch=1, dim=8, L=2049, N=1, G=4, bmode="grouped", cmode="grouped"))
    add(scan_case("scan_seqlen1", 107, batch=2, dim=4, L=1, N=4, bmode="var", cmode="grouped", G=1))
    # softplus inputs just under, at and over the threshold (bias off so delta itself is what softplus sees)
    rng = Rng(108)
    edge = torch.tensor([19.0, 19.999, 20.0, 20.001, 21.0, 30.0, -30.0, 0.0], dtype=torch.float32).to(F64)
    add(scan_case("scan_softplus_threshold", 108, batch=1, dim=6, L=8, N=2, bias=False, bmode="const", cmode="var",
                  delta=edge.repeat(1, 6, 1), A=rng.uniform((6, 2), -0.2, -0.01)))
    # deltas so large that exp(delta * A) underflows in float32 (exp(-103) is below the smallest subnormal)
    rng = Rng(109)
    add(scan_case("scan_exp_underflow", 109, batch=2, dim=4, L=16, N=4, bias=False, softplus=False,
                  delta=rng.uniform((2, 4, 16), 30.0, 120.0), A=rng.uniform((4, 4), -5.0, -1.0)))
    add(scan_case("scan_dstate257", 110, batch=1, dim=2, L=5, N=257))
    f64 = scan_case("scan_float64_inputs", 111, batch=1, dim=4, L=20, N=3, G=2, bmode="grouped", cmode="grouped")
    f64["input_dtype"] = "float64"
    add(f64)

    for (H, W), seed in (((1, 6), 201), ((6, 1), 202), ((3, 3), 203), ((4, 5), 204)):
        rng = Rng(seed)
        x = rng.normal((2, 3, H, W))
        ys = rng.normal((2, 4, 3, H * W))
        xs = cross_scan(x)
        y = cross_merge(ys, H, W)
        add(dict(name=f"cross_scan_{H}x{W}", kind="cross_scan", inputs={"x": x, "ys": ys},
                 expected={"out": xs, "xs": xs, "y": y}, options={"H": H, "W": W}))
    rng = Rng(205)
    ys = rng.normal((1, 4, 2, 35))
    add(dict(name="cross_merge_5x7", kind="cross_merge", inputs={"ys": ys},
             expected={"out": cross_merge(ys, 5, 7), "y": cross_merge(ys, 5, 7)}, options={"H": 5, "W": 7}))

    for name, seed, batch, dm, N, ratio, bias, H, W in (
            ("ss2d_d8_n1_r1_5x6", 301, 2, 8, 1, 1.0, False, 5, 6),
            ("ss2d_d12_n4_r2_bias_3x7", 302, 1, 12, 4, 2.0, True, 3, 7),
            ("ss2d_d16_n16_r1_bias_4x4", 303, 1, 16, 16, 1.0, True, 4, 4),
            ("ss2d_d8_n2_r2_1x5", 304, 2, 8, 2, 2.0, False, 1, 5),
            ("ss2d_vmamba_t_d96_n1_14x14", 305, 1, 96, 1, 1.0, False, 14, 14)):
        rng = Rng(seed)
        p = ss2d_params(rng, dm, N, ratio, bias)
        x = rng.normal((batch, dm, H, W))
        add(dict(name=name, kind="ss2d", inputs={"x": x, **p}, expected={"out": ss2d_forward(p, x)},
                 options={"d_state": N, "dt_rank": math.ceil(dm / 16), "ssm_ratio": ratio, "d_conv": 3,
                          "conv_bias": bias}))
    for name, seed, batch, dm, N, ratio, bias, H, W in (
            ("vss_d8_n1_r1_5x6", 401, 2, 8, 1, 1.0, False, 5, 6),
            ("vss_d12_n2_r2_bias_3x3", 402, 1, 12, 2, 2.0, True, 3, 3),
            ("vss_vmamba_t_d96_n1_14x14", 403, 1, 96, 1, 1.0, False, 14, 14)):
        rng = Rng(seed)
        p = vss_params(rng, dm, N, ratio, bias)
        x = rng.normal((batch, dm, H, W))
        add(dict(name=name, kind="vss_block", inputs={"x": x, **p}, expected={"out": vss_forward(p, x)},
                 options={"d_state": N, "dt_rank": math.ceil(dm / 16), "ssm_ratio": ratio, "d_conv": 3,
                          "conv_bias": bias, "mlp_ratio": 4.0}))
    return out


# ----------------------------------------------------------------------------- self-checks

def self_check():
    """The two scan formulations agree; merge is the adjoint of scan; merge(scan(x)) = 4x."""
    worst = 0.0
    for seed, kw in enumerate([
            dict(batch=2, dim=4, L=23, N=3, bmode="const", cmode="const"),
            dict(batch=2, dim=6, L=17, N=2, G=3, bmode="grouped", cmode="grouped", z=True),
            dict(batch=1, dim=4, L=9, N=5, bmode="var", cmode="const", softplus=False, bias=False),
            dict(batch=1, dim=2, L=12, N=257, bmode="const", cmode="var", z=True)]):
        t = scan_inputs(Rng(900 + seed), **kw)
        sp = kw.get("softplus", True)
        a = scan_recurrence(t["u"], t["delta"], t["A"], t["B"], t["C"], t.get("D"), t.get("z"), t.get("delta_bias"), sp)
        b = scan_closed_form(t["u"], t["delta"], t["A"], t["B"], t["C"], t.get("D"), t.get("z"), t.get("delta_bias"), sp)
        for x, y in zip(a, b):
            err = ((x - y).abs().max() / y.abs().max()).item()
            worst = max(worst, err)
            assert err < 1e-12, f"recurrence vs closed form {kw}: {err}"
    for H, W in ((1, 6), (6, 1), (3, 3), (4, 5), (7, 2)):
        rng = Rng(H * 10 + W)
        x = rng.normal((2, 3, H, W))
        y = rng.normal((2, 4, 3, H * W))
        lhs = (cross_scan(x) * y).sum()
        rhs = (x * cross_merge(y, H, W)).sum()
        assert abs(lhs - rhs) < 1e-12 * max(1.0, abs(lhs)), (H, W, lhs, rhs)
        assert torch.equal(cross_merge(cross_scan(x), H, W), 4 * x)
    # LayerNorm2d and GELU are the ones VMamba uses
    g = torch.tensor([1.0], dtype=F64)
    assert abs(torch.nn.functional.gelu(g).item() - 0.8413447460685429) < 1e-15
    print(f"self-check ok (scan recurrence vs closed form: worst rel err {worst:.2e})")


# ----------------------------------------------------------------------------- writing

def write_case(path, case, plain_lists=False, note=None):
    import pyarrow as pa
    fields, arrays = [], []
    in_dtype = np.float64 if case.get("input_dtype") == "float64" else np.float32
    cols = [(k, v.numpy().astype(in_dtype)) for k, v in case["inputs"].items()]
    cols += [(k, v.numpy().astype(np.float64)) for k, v in case["expected"].items()]
    for name, arr in cols:
        arr = np.ascontiguousarray(arr)
        shape = list(arr.shape)
        storage = pa.FixedSizeListArray.from_arrays(pa.array(arr.reshape(-1)), int(arr.size))
        if plain_lists:
            fields.append(pa.field(name, storage.type, metadata={"shape": json.dumps(shape)}))
            arrays.append(storage)
        else:
            ttype = pa.fixed_shape_tensor(pa.from_numpy_dtype(arr.dtype), shape)
            fields.append(pa.field(name, ttype))
            arrays.append(pa.ExtensionArray.from_storage(ttype, storage))
    meta = {"ss2d.kind": case["kind"], "ss2d.options": json.dumps(case["options"]),
            "ss2d.note": note or "golden vector from conformance/golden/make_golden.py (torch float64)"}
    schema = pa.schema(fields, metadata=meta)
    batch = pa.record_batch(arrays, schema=schema)
    tmp = path + ".tmp"
    with pa.OSFile(tmp, "wb") as sink:
        with pa.ipc.new_file(sink, schema) as w:
            w.write_batch(batch)
    os.replace(tmp, path)
    # read it back: one batch, one row, shapes intact
    with pa.memory_map(path) as src:
        r = pa.ipc.open_file(src)
        assert r.num_record_batches == 1 and r.get_batch(0).num_rows == 1
        assert r.schema.metadata[b"ss2d.kind"].decode() == case["kind"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="output folder")
    ap.add_argument("--check", action="store_true", help="only run the math self-checks")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))
    print(f"torch {torch.__version__}, numpy {np.__version__}")
    self_check()
    all_cases = cases()
    for c in all_cases:
        worst = max(v.abs().max().item() for v in c["expected"].values())
        assert all(torch.isfinite(v).all() for v in c["expected"].values()), c["name"]
        print(f"  {c['kind']:15s} {c['name']:34s} max|expected| {worst:.3e}")
    if args.check or not args.out:
        return
    import pyarrow as pa
    print(f"pyarrow {pa.__version__}")
    os.makedirs(os.path.join(args.out, "fixtures"), exist_ok=True)
    manifest = {"torch": torch.__version__, "pyarrow": pa.__version__, "numpy": np.__version__, "files": {}}
    jobs = [(os.path.join(args.out, c["name"] + ".arrow"), c, False) for c in all_cases]
    fixture = next(c for c in all_cases if c["name"] == "scan_grouped2_all_options")
    jobs.append((os.path.join(args.out, "fixtures", "scan_pyarrow.arrow"), fixture, False))
    jobs.append((os.path.join(args.out, "fixtures", "scan_pyarrow_plain_lists.arrow"), fixture, True))
    for path, c, plain in jobs:
        write_case(path, c, plain_lists=plain)
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        rel = os.path.relpath(path, args.out)
        manifest["files"][rel] = {"kind": c["kind"], "options": c["options"], "sha256": digest,
                                  "bytes": os.path.getsize(path), "plain_lists": plain}
    with open(os.path.join(args.out, "MANIFEST.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    total = sum(v["bytes"] for v in manifest["files"].values())
    print(f"wrote {len(jobs)} files, {total / 1e6:.2f} MB, to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
