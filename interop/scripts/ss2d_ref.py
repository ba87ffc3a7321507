"""Float64 reference of VMamba's SS2D (v05_noz, channels-first) and VSS block, and of Mamba's
selective scan, written from docs/selective-scan.md (the selective scan, CrossScan/CrossMerge, the SS2D block).

Two back ends share one code path: NumPy (always) and PyTorch (when the caller passes torch
tensors), so that the fixture writer (PyTorch) and the round-trip check (NumPy) compute the same
thing. Only what the fixtures need: real A, grouped/variable or constant B and C, D, delta_bias,
softplus with threshold 20, z gate.
"""
import math

import numpy as np


def softplus(x):
    # threshold 20 exactly, as torch.nn.functional.softplus(beta=1, threshold=20)
    return np.where(x <= 20.0, np.log1p(np.exp(np.minimum(x, 20.0))), x)


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   return_last_state=False):
    """u, delta, z: (b, d, l); A (d, n); B/C: (d, n) | (b, n, l) | (b, g, n, l); D, delta_bias (d)."""
    u = np.asarray(u, np.float64)
    delta = np.asarray(delta, np.float64)
    A = np.asarray(A, np.float64)
    b, d, l = u.shape
    n = A.shape[1]

    def per_channel(M):
        M = np.asarray(M, np.float64)
        if M.ndim == 2:  # constant (d, n) -> (b, d, n, l)
            return np.broadcast_to(M[None, :, :, None], (b, d, n, l))
        if M.ndim == 3:  # variable (b, n, l)
            M = M[:, None]
        g = M.shape[1]
        return np.repeat(M, d // g, axis=1)  # channel c uses group c // (d / g)

    Bc, Cc = per_channel(B), per_channel(C)
    dt = delta + (0.0 if delta_bias is None else np.asarray(delta_bias, np.float64)[None, :, None])
    if delta_softplus:
        dt = softplus(dt)
    h = np.zeros((b, d, n))
    ys = np.empty((b, d, l))
    for t in range(l):
        a = np.exp(dt[:, :, t, None] * A[None])
        h = a * h + (dt[:, :, t] * u[:, :, t])[:, :, None] * Bc[:, :, :, t]
        ys[:, :, t] = np.sum(Cc[:, :, :, t] * h, axis=2)
    if D is not None:
        ys = ys + np.asarray(D, np.float64)[None, :, None] * u
    if z is not None:
        z = np.asarray(z, np.float64)
        ys = ys * z / (1.0 + np.exp(-z))
    return (ys, h) if return_last_state else ys


def cross_scan(x):
    """(b, c, h, w) -> (b, 4, c, h*w): row-major, column-major, and both reversed."""
    b, c, hh, ww = x.shape
    r0 = x.reshape(b, c, hh * ww)
    r1 = np.swapaxes(x, 2, 3).reshape(b, c, hh * ww)
    return np.stack([r0, r1, r0[..., ::-1], r1[..., ::-1]], axis=1)


def cross_merge(ys, hh, ww):
    """(b, 4, c, h*w) -> (b, c, h, w), the adjoint of cross_scan."""
    b, _, c, l = ys.shape
    row = ys[:, 0] + ys[:, 2, :, ::-1]
    col = ys[:, 1] + ys[:, 3, :, ::-1]
    col = np.swapaxes(col.reshape(b, c, ww, hh), 2, 3).reshape(b, c, l)
    return (row + col).reshape(b, c, hh, ww)


def layer_norm_2d(x, w, bias, eps=1e-5):
    mean = x.mean(axis=1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w[None, :, None, None] + bias[None, :, None, None]


def depthwise_conv(x, w, bias):
    """x (b, c, h, w), w (c, 1, k, k), zero padding (k-1)/2."""
    b, c, hh, ww = x.shape
    k = w.shape[-1]
    p = (k - 1) // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.zeros_like(x)
    for i in range(k):
        for j in range(k):
            out += xp[:, :, i:i + hh, j:j + ww] * w[None, :, 0, i, j, None, None]
    if bias is not None:
        out += bias[None, :, None, None]
    return out


def silu(x):
    return x / (1.0 + np.exp(-x))


def gelu_erf(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def ss2d(p, x):
    """p: dict of VMamba SS2D parameters (no prefix) as float64 arrays; x (b, d_model, h, w)."""
    x = np.asarray(x, np.float64)
    b, dm, hh, ww = x.shape
    di = p["in_proj.weight"].shape[0]
    n = p["A_logs"].shape[1]
    r = p["dt_projs_weight"].shape[2]
    L = hh * ww
    xi = np.einsum("oc,bchw->bohw", p["in_proj.weight"], x)
    xa = silu(depthwise_conv(xi, p["conv2d.weight"], p.get("conv2d.bias")))
    xs = cross_scan(xa)                                               # (b, 4, di, L)
    x_dbl = np.einsum("kcd,bkdl->bkcl", p["x_proj_weight"], xs)      # (b, 4, r+2n, L)
    dts_r, Bs, Cs = x_dbl[:, :, :r], x_dbl[:, :, r:r + n], x_dbl[:, :, r + n:]
    dts = np.einsum("kdr,bkrl->bkdl", p["dt_projs_weight"], dts_r)   # (b, 4, di, L)
    ys = selective_scan(xs.reshape(b, 4 * di, L), dts.reshape(b, 4 * di, L), -np.exp(p["A_logs"]),
                        Bs, Cs, D=p["Ds"], delta_bias=p["dt_projs_bias"].reshape(-1), delta_softplus=True)
    y = cross_merge(ys.reshape(b, 4, di, L), hh, ww)
    y = layer_norm_2d(y, p["out_norm.weight"], p["out_norm.bias"])
    return np.einsum("oc,bchw->bohw", p["out_proj.weight"], y)


def vss_block(p, x):
    """p: VSS block parameters (norm.*, op.*, norm2.*, mlp.fc1.*, mlp.fc2.*) as float64 arrays."""
    x = np.asarray(x, np.float64)
    op = {k[3:]: v for k, v in p.items() if k.startswith("op.")}
    x = x + ss2d(op, layer_norm_2d(x, p["norm.weight"], p["norm.bias"]))
    h = layer_norm_2d(x, p["norm2.weight"], p["norm2.bias"])
    h = np.einsum("oc,bchw->bohw", p["mlp.fc1.weight"], h) + p["mlp.fc1.bias"][None, :, None, None]
    h = gelu_erf(h)
    h = np.einsum("oc,bchw->bohw", p["mlp.fc2.weight"], h) + p["mlp.fc2.bias"][None, :, None, None]
    return x + h
