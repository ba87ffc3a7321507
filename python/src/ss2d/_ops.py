"""The ops, with mamba's and VMamba's Python signatures.

A call goes to the engine as one binary frame (the engine's ``Frames``): a short header and, per tensor, its slot
and its reference: the one its pool block made once for host arrays, the allocation's IPC handle (exported once
per allocation) and the offset for torch CUDA tensors. The rare requests (load, plan, stats...) go as JSON.
"""

import struct

import numpy as np

from . import _engine, _refs
from ._refs import any_wire, cuda_device, host_output, new_output, ref, shape_of, sync_cuda, wire, wrap

_HEAD = struct.Struct("<BBBBqB")        # marker 1, op, flags, tensor count, handle, backend name length (an ordered
                                        # call's u32 ticket goes after the handle: _order.with_ticket)
OP_PING, OP_SCAN, OP_CROSS_SCAN, OP_CROSS_MERGE, OP_RUN = 1, 2, 3, 4, 5
SOFTPLUS, LAST_STATE, FEATURES, ORDERED = 1, 2, 4, 8
# tensor slots, as the engine numbers them
SLOTS = {n: bytes([i]) for i, n in enumerate(("u", "delta", "A", "B", "C", "D", "z", "delta_bias", "x", "ys",
                                               "out", "last_state", "out0", "out1", "out2", "out3"))}
_SCAN_SLOTS = tuple(SLOTS[n] for n in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias"))
_SCAN_NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")
_backend_names = {None: b""}


def binary(op, backend, flags, handle, parts):
    """One binary request: ``parts`` alternates slot bytes and tensor references. None when ``backend`` cannot be
    named in a binary frame (the JSON path then sends it, and the engine says what is wrong with it)."""
    name = _backend_names.get(backend)
    if name is None:
        if not isinstance(backend, str) or not backend.isascii() or len(backend) > 255:
            return None
        name = _backend_names[backend] = backend.encode("ascii")
    return _HEAD.pack(1, op, flags, len(parts) // 2, handle, len(name)) + name + b"".join(parts)


def begin_cuda(*values):
    """The ORDERED flag when CUDA tensors among ``values`` go stream-ordered (the default), else 0 (no CUDA tensor, or
    the synchronous mode: ``SS2D_CUDA_SYNC=1``)."""
    if not _refs.CUDA_ORDERED:
        return 0
    return ORDERED if cuda_device(values) is not None else 0


def send(req, flags, values, device=None):
    """Sends a call: stream-ordered (ORDERED in ``flags``) through the connection's ordering page (on ``device``, else
    that of the first CUDA tensor among ``values``); else plainly, after synchronising PyTorch's current stream for
    the CUDA tensors among ``values`` (here, after the outputs were made: a poisoned output's fill is queued work too)."""
    if flags & ORDERED:
        return _engine.engine().call_cuda(req, device or cuda_device(values))
    sync_cuda(*values)
    return _engine.call(req)


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
    args = (u, delta, A, B, C, D, z, delta_bias)
    su, sa = shape_of(u), shape_of(A)
    last_shape = None
    if return_last_state:
        last_shape = (su[0], su[1], sa[1] if len(sa) == 2 else 1) if len(su) == 3 else (0,)
    keep = []
    parts = []
    device = cuda_device(args)
    on_cuda = device is not None
    if on_cuda:
        ordered = ORDERED if _refs.CUDA_ORDERED else 0     # begin_cuda's answer, the device being known
        for i in range(8):
            if args[i] is not None:
                parts.append(_SCAN_SLOTS[i])
                parts.append(any_wire(args[i], _SCAN_NAMES[i], keep))
        out, w = new_output(su, u, keep)
    else:
        ordered = 0
        for i in range(8):
            v = args[i]
            if v is not None:
                parts.append(_SCAN_SLOTS[i])
                parts.append(wire(v, _SCAN_NAMES[i], keep))
        out = host_output(su)
        w = out.base.wire
    parts.append(SLOTS["out"])
    parts.append(w)
    flags = (SOFTPLUS if delta_softplus else 0) | ordered
    if return_last_state:
        last, w = new_output(last_shape, u, keep)
        parts.append(SLOTS["last_state"])
        parts.append(w)
        flags |= LAST_STATE
    req = binary(OP_SCAN, backend, flags, 0, parts)
    if req is None:                 # a backend name a binary frame cannot carry: JSON, for the engine's message
        outputs = {"out": ref(out, "out", keep)}
        if return_last_state:
            outputs["last_state"] = ref(last, "last_state", keep)
        req = _req("selective_scan", backend, {n: ref(v, n, keep) for n, v in zip(_SCAN_NAMES, args) if v is not None},
                   outputs, {"delta_softplus": bool(delta_softplus), "return_last_state": bool(return_last_state)})
        req["ordered"] = bool(ordered)
    send(req, ordered, args if on_cuda else (), device)
    if return_last_state:
        return wrap(out, u), wrap(last, u)
    return wrap(out, u)


def _one_in_one_out(op, code, name, x, out_shape, backend):
    keep = []
    ordered = begin_cuda(x)
    out, w = new_output(out_shape, x, keep)
    req = binary(code, backend, ordered, 0, [SLOTS[name], any_wire(x, name, keep), SLOTS["out"], w])
    if req is None:
        req = _req(op, backend, {name: ref(x, name, keep)}, {"out": ref(out, "out", keep)})
        req["ordered"] = bool(ordered)
    send(req, ordered, (x,))
    return wrap(out, x)


def cross_scan(x, backend=None):
    """VMamba's CrossScan: ``x (batch, C, H, W)`` to ``(batch, 4, C, H*W)`` (row-major, column-major, and
    both reversed)."""
    s = shape_of(x)
    out_shape = (s[0], 4, s[1], s[2] * s[3]) if len(s) == 4 else s
    return _one_in_one_out("cross_scan", OP_CROSS_SCAN, "x", x, out_shape, backend)


def cross_merge(ys, H=None, W=None, backend=None):
    """VMamba's CrossMerge: ``ys (batch, 4, C, H*W)`` (or ``(batch, 4, C, H, W)``, whose H and W are then
    taken) to ``(batch, C, H, W)``, the sum of the four routes mapped back."""
    s = shape_of(ys)
    if len(s) == 5:
        if H is None and W is None:
            H, W = s[3], s[4]
        ys = ys.reshape(s[0], 4, s[2], s[3] * s[4])
        s = shape_of(ys)
    if H is None or W is None:
        raise ValueError("H, W: expected the grid's height and width (ys has %d dimensions)" % len(s))
    out_shape = (s[0], s[2], int(H), int(W)) if len(s) == 4 else (0,)
    return _one_in_one_out("cross_merge", OP_CROSS_MERGE, "ys", ys, out_shape, backend)


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


_PING = _HEAD.pack(1, OP_PING, 0, 0, 0, 0)


def ping():
    """One round trip to the engine (no op): for measuring the per-call overhead."""
    _engine.call(_PING)


def shutdown():
    """Asks the engine to exit, if one is running (it also exits by itself after 15 idle minutes); starts none."""
    eng = _engine.engine()
    try:
        eng.call({"op": "shutdown"}, start=False)
    except (OSError, Exception):
        pass
    eng._forget()
