"""Float64 NumPy versions of the ops, written from their definitions (mamba's selective_scan_ref and VMamba's
CrossScan/CrossMerge), for checking the engine's answers."""

import numpy as np


def softplus(x):
    return np.where(x <= 20.0, np.log1p(np.exp(np.minimum(x, 20.0))), x)


def _expand(X, b, d, n, l):
    X = np.asarray(X, np.float64)
    if X.ndim == 2:                                    # constant over time: (dim, dstate)
        return np.broadcast_to(X[None, :, :, None], (b, d, n, l))
    if X.ndim == 3:                                    # (batch, dstate, seqlen): one group
        return np.broadcast_to(X[:, None], (b, d, n, l))
    g = X.shape[1]                                     # (batch, groups, dstate, seqlen)
    return np.repeat(X, d // g, axis=1)


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    u = np.asarray(u, np.float64)
    dt = np.asarray(delta, np.float64)
    A = np.asarray(A, np.float64)
    b, d, l = u.shape
    n = A.shape[1]
    if delta_bias is not None:
        dt = dt + np.asarray(delta_bias, np.float64)[None, :, None]
    if delta_softplus:
        dt = softplus(dt)
    Bx, Cx = _expand(B, b, d, n, l), _expand(C, b, d, n, l)
    h = np.zeros((b, d, n))
    ys = np.empty((b, d, l))
    for t in range(l):
        h = np.exp(dt[:, :, t, None] * A[None]) * h + dt[:, :, t, None] * Bx[..., t] * u[:, :, t, None]
        ys[:, :, t] = (h * Cx[..., t]).sum(-1)
    if D is not None:
        ys = ys + u * np.asarray(D, np.float64)[None, :, None]
    if z is not None:
        z = np.asarray(z, np.float64)
        ys = ys * z / (1.0 + np.exp(-z))
    return ys, h


def cross_scan(x):
    x = np.asarray(x, np.float64)
    b, c, hh, ww = x.shape
    rows = x.reshape(b, c, hh * ww)
    cols = x.transpose(0, 1, 3, 2).reshape(b, c, hh * ww)
    return np.stack([rows, cols, rows[..., ::-1], cols[..., ::-1]], axis=1)


def cross_merge(ys, hh, ww):
    ys = np.asarray(ys, np.float64)
    b, _, c, _ = ys.shape
    rows = ys[:, 0] + ys[:, 2, :, ::-1]
    cols = ys[:, 1] + ys[:, 3, :, ::-1]
    return rows.reshape(b, c, hh, ww) + cols.reshape(b, c, ww, hh).transpose(0, 1, 3, 2)
