"""Tensors in and out: numpy, torch and pyarrow values as references to shared memory, and back.

An input already in this process's shared memory (made by ``ss2d.empty``/``ss2d.shared``, or an output
of an earlier call, or any view of those) is sent as a reference: no copy. Anything else is copied once
into a shared block for the call (counted in ``ss2d.stats()``), as is a dtype other than float32 (the
engine computes in float32) and a non-contiguous view. Outputs are blocks of shared memory the engine
writes into; they come back as views of the input's type, never copied.
"""

import base64
import os
import struct
import threading

import numpy as np

from . import _shm

_counts = {"copies_in": 0, "bytes_copied_in": 0, "outputs": 0}
_counts_lock = threading.Lock()
_POISON = bool(os.environ.get("SS2D_POISON"))


def counts():
    return dict(_counts)


def _count_copy(nbytes):
    with _counts_lock:
        _counts["copies_in"] += 1
        _counts["bytes_copied_in"] += nbytes


_families = {}          # type -> "numpy", "torch", "pyarrow" or "other": decided once per type (a call asks per input)


def _family(t):
    if issubclass(t, np.ndarray):
        f = "numpy"
    else:
        mod = t.__module__ or ""
        f = "torch" if mod.startswith("torch") else "pyarrow" if mod.startswith("pyarrow") else "other"
    if len(_families) < 256:
        _families[t] = f
    return f


def kind_of(x):
    """numpy, torch, cuda (a torch CUDA tensor), arrow_tensor, arrow_fst (a fixed_shape_tensor array), other."""
    t = type(x)
    f = _families.get(t) or _family(t)
    if f == "torch":
        return "cuda" if x.is_cuda else "torch"
    if f == "numpy":
        return "numpy"
    if f == "pyarrow":
        import pyarrow as pa
        if isinstance(x, pa.Tensor):
            return "arrow_tensor"
        if isinstance(x, pa.ExtensionArray) and getattr(x.type, "extension_name", "") == "arrow.fixed_shape_tensor":
            return "arrow_fst"
    return "other"


def _numpy(x, kind, name):
    if kind == "numpy":
        return x
    if kind == "torch":
        import torch
        if x.dtype != torch.float32:
            if not x.is_floating_point():
                raise ValueError("%s: expected floating-point values (float32 is used as is), found %s" % (name, x.dtype))
            _count_copy(x.numel() * 4)
            x = x.float()
        return x.detach().resolve_conj().numpy()
    if kind == "arrow_tensor":
        return x.to_numpy()
    if kind == "arrow_fst":
        return x.to_numpy_ndarray()
    return np.asarray(x)


_F32 = np.dtype(np.float32)


def _host(x, name, keep):
    """(segment, offset, array) of host input ``x`` in shared memory: its own bytes when they are there (a block
    of the pool or a contiguous float32 view inside one), else a copy made for the call (counted). Whatever must
    live until the reply goes into ``keep``."""
    if type(x) is np.ndarray:
        a = x
    else:
        a = _numpy(x, kind_of(x), name)
    b = a.base
    if type(b) is _shm.Block and a.dtype is _F32 and a.shape == b.shape and a.strides == b.strides:
        # the common case, an array made by ss2d.empty/shared or an output: its block says where it is
        keep.append(a)
        return b.segment, b.offset, a
    if a.dtype != np.float32:
        if a.dtype.kind != "f":
            raise ValueError("%s: expected floating-point values (float32 is used as is), found %s" % (name, a.dtype))
    pool = _shm.pool()
    loc = pool.locate(a.ctypes.data, a.nbytes) if a.dtype == np.float32 and a.flags.c_contiguous else None
    if loc is None:
        c = pool.array(a.shape, np.float32)
        np.copyto(c, a, casting="same_kind")
        _count_copy(c.nbytes)
        keep.append(c)
        return c.base.segment, c.base.offset, c
    keep.append(a)
    return loc[0], loc[1], a


def ref(x, name, keep):
    """The JSON reference of input ``x``; temporaries that must live until the reply go into ``keep``."""
    if x is None:
        return None
    if type(x) is not np.ndarray and kind_of(x) == "cuda":
        return cuda_ref(x, name, keep)
    seg, off, a = _host(x, name, keep)
    return {"seg": seg.id, "fd": seg.fd, "size": seg.size, "off": off, "shape": list(a.shape), "dtype": "float32"}


def wire(x, name, keep):
    """The binary reference of host input ``x`` (see ``_shm.wire``): a block's own, made once, for the common case."""
    if type(x) is np.ndarray:
        b = x.base
        if type(b) is _shm.Block and x.dtype is _F32 and x.shape == b.shape and x.strides == b.strides:
            keep.append(x)
            return b.wire
    seg, off, a = _host(x, name, keep)
    b = a.base
    if type(b) is _shm.Block and b.segment is seg and b.offset == off and a.shape == b.shape:
        return b.wire
    return _shm.wire(seg, off, a.shape)


def host_output(shape):
    """A new output array in shared memory (its block's ``wire`` is its reference)."""
    arr = _shm.pool().array(shape if type(shape) is tuple else tuple(int(d) for d in shape), _F32)
    if _POISON:
        arr.fill(np.nan)
    with _counts_lock:
        _counts["outputs"] += 1
    return arr


def wrap(arr, like):
    """``arr`` (a shared numpy array, or a CUDA tensor) as the type of ``like``, without a copy."""
    if type(like) is np.ndarray:
        return arr
    kind = kind_of(like)
    if kind in ("torch", "cuda"):
        import torch
        return arr if kind == "cuda" else torch.from_numpy(arr)
    if kind == "arrow_tensor":
        import pyarrow as pa
        return pa.Tensor.from_numpy(arr)
    if kind == "arrow_fst":
        import pyarrow as pa
        return pa.FixedShapeTensorArray.from_numpy_ndarray(arr)
    return arr


def shape_of(x):
    if type(x) is np.ndarray:
        return x.shape
    kind = kind_of(x)
    if kind in ("torch", "cuda"):
        return tuple(x.shape)          # a torch.Size holds ints already
    if kind in ("numpy", "arrow_tensor"):
        return tuple(int(d) for d in x.shape)
    if kind == "arrow_fst":
        return (len(x),) + tuple(x.type.shape)
    return np.shape(x)


_libcuda = None


def _cuda():
    """The CUDA driver (the one PyTorch uses), for the two calls that export an allocation."""
    global _libcuda
    if _libcuda is None:
        import ctypes
        cu = ctypes.CDLL("libcuda.so.1")
        cu.cuMemGetAddressRange_v2.argtypes = [ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_size_t),
                                               ctypes.c_uint64]
        cu.cuIpcGetMemHandle.argtypes = [ctypes.c_char_p, ctypes.c_uint64]
        cu.cuPointerGetAttributes.argtypes = [ctypes.c_uint, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_void_p),
                                              ctypes.c_uint64]
        _libcuda = cu
    return _libcuda


_CU_POINTER_ATTRIBUTE_BUFFER_ID = 7          # CUpointer_attribute values (cuda.h)
_CU_POINTER_ATTRIBUTE_RANGE_START_ADDR = 11
_CU_POINTER_ATTRIBUTE_RANGE_SIZE = 12
_handles = {}                                # allocation's buffer id -> (base, size, IPC handle bytes)
_MAX_HANDLES = 4096
_tls = threading.local()


def _device(t):
    import torch
    return torch.cuda.device(t.device)


def _attributes():
    """This thread's reused arguments of cuPointerGetAttributes: buffer id, range start, range size."""
    a = getattr(_tls, "attrs", None)
    if a is None:
        import ctypes
        ids = (ctypes.c_int * 3)(_CU_POINTER_ATTRIBUTE_BUFFER_ID, _CU_POINTER_ATTRIBUTE_RANGE_START_ADDR,
                                 _CU_POINTER_ATTRIBUTE_RANGE_SIZE)
        vals = (ctypes.c_uint64(), ctypes.c_uint64(), ctypes.c_size_t())
        data = (ctypes.c_void_p * 3)(*(ctypes.addressof(v) for v in vals))
        a = _tls.attrs = (ids, vals, data)
    return a


def _allocation(t, name):
    """(base, size, IPC handle) of the CUDA allocation holding tensor ``t``. The handle of an allocation is
    exported once: ``cuPointerGetAttributes`` gives the allocation's buffer id (unique for the life of the
    process, never reused by a later allocation at the same address), which keys the export; the first time,
    ``cuMemGetAddressRange`` finds the allocation of PyTorch's caching allocator and ``cuIpcGetMemHandle``
    exports it."""
    import ctypes
    cu = _cuda()
    ptr = t.data_ptr()
    ids, vals, data = _attributes()
    # the call succeeds with zeros for a pointer it cannot resolve: a zero id or start is not an answer
    known = cu.cuPointerGetAttributes(3, ids, data, ptr) == 0 and vals[0].value != 0 and vals[1].value != 0
    if known:
        hit = _handles.get(vals[0].value)
        if hit is not None and hit[0] <= ptr < hit[0] + hit[1]:
            return hit
        buffer_id = vals[0].value
    base, size = ctypes.c_uint64(), ctypes.c_size_t()
    with _device(t):
        st = cu.cuMemGetAddressRange_v2(ctypes.byref(base), ctypes.byref(size), ptr)
        handle = ctypes.create_string_buffer(64)
        st = st or cu.cuIpcGetMemHandle(handle, base.value)
    if st != 0:
        raise NotImplementedError("%s: this CUDA tensor's memory cannot be shared with the engine (CUresult %d; "
                                  "PyTorch's expandable_segments allocator is not supported)" % (name, st))
    entry = (base.value, size.value, handle.raw)
    if known:
        if len(_handles) >= _MAX_HANDLES:
            _handles.clear()
        _handles[buffer_id] = entry
    return entry


def _check_cuda(t, name, keep):
    import torch
    if t.dtype != torch.float32:
        raise ValueError("%s: expected float32 CUDA values, found %s" % (name, t.dtype))
    if not t.is_contiguous():
        raise ValueError("%s: expected a contiguous CUDA tensor (call .contiguous(); a copy on the device)" % name)
    keep.append(t)


def cuda_ref(t, name, keep):
    """A CUDA tensor as the IPC handle of the allocation holding it and its offset there (JSON). The caller orders the
    engine's stream after PyTorch's current one (or synchronised it), so the engine reads settled memory."""
    _check_cuda(t, name, keep)
    base, size, handle = _allocation(t, name)
    return {"cuda": {"handle": base64.b64encode(handle).decode(), "device": t.device.index or 0,
                     "offset": t.data_ptr() - base, "alloc_bytes": size},
            "shape": list(t.shape), "dtype": "float32"}


_CUDA_WIRE = struct.Struct("<Biqq64s")      # rank | 0x80, device, allocation size, offset, IPC handle


def cuda_wire(t, name, keep):
    """The binary reference of CUDA tensor ``t`` (see the engine's Frames class), without its slot byte. Kept on the
    tensor for its next calls: a live tensor holds its block of PyTorch's allocator, so its allocation (and the IPC
    handle) cannot change while the tensor has the same data pointer, shape, dtype and contiguity."""
    ptr = t.data_ptr()
    shape = tuple(t.shape)
    hit = getattr(t, "_ss2d_wire", None)
    if hit is not None and hit[0] == ptr and hit[1] == shape and t.dtype == hit[2] and t.is_contiguous():
        keep.append(t)
        return hit[3]
    _check_cuda(t, name, keep)
    return _new_cuda_wire(t, ptr, shape, name)


def _dims(rank):
    """The packer of a tensor's dimensions (i64 each), made once per rank."""
    s = _DIMS.get(rank)
    if s is None:
        s = _DIMS[rank] = struct.Struct("<%dq" % rank)
    return s


_DIMS = {}


def _new_cuda_wire(t, ptr, shape, name):
    base, size, handle = _allocation(t, name)
    w = _CUDA_WIRE.pack(len(shape) | 0x80, t.device.index or 0, size, ptr - base, handle) + _dims(len(shape)).pack(*shape)
    try:
        t._ss2d_wire = (ptr, shape, t.dtype, w)
    except (AttributeError, TypeError):
        pass                              # a tensor subclass without attributes: looked up every call
    return w


def any_wire(x, name, keep):
    """The binary reference of input ``x``, a host or a CUDA tensor."""
    if type(x) is not np.ndarray and kind_of(x) == "cuda":
        return cuda_wire(x, name, keep)
    return wire(x, name, keep)


def new_output(shape, like, keep):
    """(array or CUDA tensor, its binary reference) of a new output of ``shape``, where ``like`` lives."""
    if type(like) is not np.ndarray and kind_of(like) == "cuda":
        return new_cuda_output(shape, like.device, keep)
    arr = host_output(shape)
    return arr, arr.base.wire


def new_cuda_output(shape, device, keep):
    """(CUDA tensor, its binary reference) of a new output of ``shape`` on ``device``: a float32, contiguous
    ``torch.empty``, so without the checks an input gets (its reference is made once, as for an input)."""
    import torch
    shape = shape if type(shape) is tuple else tuple(int(d) for d in shape)
    t = torch.empty(shape, dtype=torch.float32, device=device)
    if _POISON:
        t.fill_(float("nan"))       # queued on the current stream, before the call's ticket or synchronisation
    keep.append(t)
    return t, _new_cuda_wire(t, t.data_ptr(), shape, "out")


# Calls on CUDA tensors are stream-ordered by default: nobody waits on the host, the two processes' streams order each
# other through counters in a page both map (_order, README "Stream order"). SS2D_CUDA_SYNC=1 (or SS2D_CUDA_ORDERED=0)
# makes them synchronous: the client synchronises PyTorch's current stream before sending, the engine its own stream
# before replying.
def cuda_ordered(env):
    """Whether ``env`` (the environment) leaves calls on CUDA tensors stream-ordered."""
    # "false", "no" and "off" read as 0: SS2D_CUDA_ORDERED=false left calls ordered, SS2D_CUDA_SYNC=false made them
    # synchronous, the opposite of what each says
    def on(name, default):
        return (env.get(name) or default).strip().lower() not in ("", "0", "false", "no", "off")   # empty: unset
    return not on("SS2D_CUDA_SYNC", "") and on("SS2D_CUDA_ORDERED", "1")


CUDA_ORDERED = cuda_ordered(os.environ)


def cuda_device(values):
    """The device of the first torch CUDA tensor among ``values``, or None when there is none."""
    for v in values:
        if v is not None and type(v) is not np.ndarray and kind_of(v) == "cuda":
            return v.device
    return None


def sync_cuda(*tensors):
    """Waits for PyTorch's current stream on each device the CUDA tensors among ``tensors`` live on."""
    seen = set()
    for t in tensors:
        if t is not None and kind_of(t) == "cuda" and t.device not in seen:
            seen.add(t.device)
            import torch
            torch.cuda.current_stream(t.device).synchronize()
