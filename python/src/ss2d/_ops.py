"""The ops, with mamba's and VMamba's Python signatures."""

from . import _engine, _refs
from ._refs import output, ref, shape_of, sync_cuda, wrap


def _req(op, backend, inputs, outputs, options=None):
    r = {"op": op, "inputs": inputs, "outputs": outputs}
    if backend is not None:
        r["backend"] = backend
    if options:
        r["options"] = options
    return r


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   return_last_state=False, backend=None):
    """Mamba's ``selective_scan_fn``: ``out (batch, dim, seqlen)``, and ``last_state (batch, dim, dstate)``
    when ``return_last_state``. Outputs have the type of ``u`` (numpy, torch, pyarrow) and live in shared
    memory. ``backend``: None (auto), "cpu", "cuda", "reference"; a named backend never falls back."""
    keep = []
    sync_cuda(u, delta, A, B, C, D, z, delta_bias)
    names = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")
    inputs = {}
    for n, v in zip(names, (u, delta, A, B, C, D, z, delta_bias)):
        if v is not None:
            inputs[n] = ref(v, n, keep)
    su, sa = shape_of(u), shape_of(A)
    out_ref, out = output(su, u, keep)
    outputs = {"out": out_ref}
    last = None
    if return_last_state:
        n = sa[1] if len(sa) == 2 else 1
        ls_ref, last = output(tuple(su[:2]) + (n,), u, keep) if len(su) == 3 else output((0,), u, keep)
        outputs["last_state"] = ls_ref
    options = {"delta_softplus": bool(delta_softplus), "return_last_state": bool(return_last_state)}
    _engine.call(_req("selective_scan", backend, inputs, outputs, options))
    if return_last_state:
        return wrap(out, u), wrap(last, u)
    return wrap(out, u)


def cross_scan(x, backend=None):
    """VMamba's CrossScan: ``x (batch, C, H, W)`` to ``(batch, 4, C, H*W)`` (row-major, column-major, and
    both reversed)."""
    keep = []
    sync_cuda(x)
    s = shape_of(x)
    out_shape = (s[0], 4, s[1], s[2] * s[3]) if len(s) == 4 else s
    out_ref, out = output(out_shape, x, keep)
    _engine.call(_req("cross_scan", backend, {"x": ref(x, "x", keep)}, {"out": out_ref}))
    return wrap(out, x)


def cross_merge(ys, H=None, W=None, backend=None):
    """VMamba's CrossMerge: ``ys (batch, 4, C, H*W)`` (or ``(batch, 4, C, H, W)``, whose H and W are then
    taken) to ``(batch, C, H, W)``, the sum of the four routes mapped back."""
    keep = []
    sync_cuda(ys)
    s = shape_of(ys)
    if len(s) == 5:
        if H is None and W is None:
            H, W = s[3], s[4]
        ys = ys.reshape(s[0], 4, s[2], s[3] * s[4])
        s = shape_of(ys)
    if H is None or W is None:
        raise ValueError("H, W: expected the grid's height and width (ys has %d dimensions)" % len(s))
    out_shape = (s[0], s[2], int(H), int(W)) if len(s) == 4 else (0,)
    out_ref, out = output(out_shape, ys, keep)
    _engine.call(_req("cross_merge", backend, {"ys": ref(ys, "ys", keep)}, {"out": out_ref}))
    return wrap(out, ys)


def backends():
    """Every backend the engine has: name, available (else reason), device, max_dstate, whether auto picks it."""
    r = _engine.call({"op": "backends"})
    for b in r["backends"]:
        b["picked_by_auto"] = b["name"] == r.get("auto")
    return r["backends"]


def stats():
    """Counters of this process (copies made on the way in, outputs) and of the engine (sessions, mapped bytes)."""
    s = dict(_refs.counts())
    from . import _shm
    p = _shm.pool()
    s["segments"] = len(p.segments())
    s["blocks_allocated"] = p.blocks_allocated
    r = _engine.call({"op": "stats"})
    s["engine"] = {k: v for k, v in r.items() if k != "ok"}
    return s


def ping():
    """One round trip to the engine (no op): for measuring the per-call overhead."""
    _engine.call({"op": "ping"})


def shutdown():
    """Asks the engine to exit, if one is running (it also exits by itself after 15 idle minutes); starts none."""
    eng = _engine.engine()
    try:
        eng.call({"op": "shutdown"}, start=False)
    except (OSError, Exception):
        pass
    eng._forget()
