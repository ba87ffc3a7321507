"""ss2d: Mamba's selective scan, VMamba's CrossScan/CrossMerge, SS2D and VSS blocks and whole VMamba
models from Python, computed by the ss2d engine (a local JVM process, started on first use) on tensors
shared with it through memory both processes map.

    import ss2d, numpy as np
    out = ss2d.selective_scan(u, delta, A, B, C, D, delta_softplus=True)

Inputs made with ``ss2d.empty``/``ss2d.shared`` (and every output) are used in place; other arrays are
copied once into shared memory per call. Outputs come back as the type of the main input (numpy, torch,
pyarrow) without a copy.
"""

import numpy as _np

from ._modules import SS2D, VMamba, VSSBlock
from ._ops import backends, cross_merge, cross_scan, ping, selective_scan, shutdown, stats
from .errors import EngineError, EngineTimeoutError, LimitExceededError, StreamOrderError

__version__ = "0.1.0"

__all__ = ["selective_scan", "cross_scan", "cross_merge", "SS2D", "VSSBlock", "VMamba", "backends", "empty",
           "shared", "is_shared", "stats", "ping", "shutdown", "EngineError", "EngineTimeoutError", "StreamOrderError",
           "LimitExceededError"]


def empty(*shape, like="numpy"):
    """A float32 array in shared memory (contents undefined): passing it (or a contiguous slice) to an op
    copies nothing. ``like``: "numpy", "torch" or "arrow" (a pyarrow.Tensor)."""
    from . import _shm
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    a = _shm.pool().array(tuple(int(d) for d in shape), _np.float32)
    return _as(a, like)


def shared(x):
    """A copy of ``x`` (numpy, torch CPU or pyarrow.Tensor) in shared memory, of the same type, as float32."""
    from . import _refs, _shm
    kind = _refs.kind_of(x)
    a = _refs._numpy(x, kind, "x")
    b = _shm.pool().array(a.shape, _np.float32)
    _np.copyto(b, a, casting="same_kind")
    return _refs.wrap(b, x)


def is_shared(x):
    """Whether ``x``'s bytes lie in this process's shared memory (an op would use them without a copy)."""
    from . import _refs, _shm
    kind = _refs.kind_of(x)
    if kind == "cuda":
        return False
    a = _refs._numpy(x, kind, "x")
    return a.dtype == _np.float32 and a.flags.c_contiguous and _shm.pool().locate(a.ctypes.data, a.nbytes) is not None


def _as(a, like):
    if like == "numpy":
        return a
    if like == "torch":
        import torch
        return torch.from_numpy(a)
    if like == "arrow":
        import pyarrow as pa
        return pa.Tensor.from_numpy(a)
    raise ValueError('like: expected "numpy", "torch" or "arrow", found %r' % (like,))


def set_timeout(seconds):
    """Seconds a call may take before EngineTimeoutError (default 600, or $SS2D_TIMEOUT); new connections."""
    import os
    os.environ["SS2D_TIMEOUT"] = str(float(seconds))
