"""Stream order of calls on CUDA tensors: two counters in a page of shared memory that this process and the engine
both map and register for their CUDA streams (README, "Stream order").

Per connection and device, the page holds ``ready`` (offset 0; this process's stream writes call k's ticket after
the work queued before the call, the engine's stream waits for it) and ``done`` (offset 64; the engine's stream writes
k after the op, this process's stream waits for it). The waits are CUDA's cyclic ``GEQ`` (``(int32)(word - k) >= 0``),
so the 32-bit tickets wrap around freely. Either side can write a word from the host: that is how a dead peer's
waits are released, so no stream waits forever on the other process.
"""

import ctypes
import mmap
import os
import struct
import threading

READY, DONE, PAGE = 0, 64, 4096
_TICKET = struct.Struct("<I")
_TICKET_AT = 12                  # in a binary request: after the marker, op, flags, count and the i64 handle
_ORDERED = 8
_CU_MEMHOSTREGISTER_PORTABLE, _CU_MEMHOSTREGISTER_DEVICEMAP = 0x01, 0x02
_CU_STREAM_WAIT_VALUE_GEQ = 0x0


class Driver:
    """The driver calls of the ordering (ctypes on the libcuda.so.1 PyTorch loaded); a test replaces it."""

    def __init__(self):
        from ._refs import _cuda
        cu = _cuda()          # a driver without one of the entry points below: AttributeError (the caller falls back)
        vp, u32, u64 = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint64
        cu.cuDeviceGet.argtypes = [ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        cu.cuDevicePrimaryCtxRetain.argtypes = [ctypes.POINTER(vp), ctypes.c_int]
        cu.cuCtxGetCurrent.argtypes = [ctypes.POINTER(vp)]
        cu.cuCtxPushCurrent_v2.argtypes = [vp]
        cu.cuCtxPopCurrent_v2.argtypes = [ctypes.POINTER(vp)]
        cu.cuMemHostRegister_v2.argtypes = [vp, ctypes.c_size_t, ctypes.c_uint]
        cu.cuMemHostGetDevicePointer_v2.argtypes = [ctypes.POINTER(u64), vp, ctypes.c_uint]
        # CUDA 12 and 13 export the stream memory operations as _v2 (the unsuffixed ones are the old, opt-in kind)
        cu.cuStreamWaitValue32_v2.argtypes = [vp, u64, u32, ctypes.c_uint]
        cu.cuStreamWriteValue32_v2.argtypes = [vp, u64, u32, ctypes.c_uint]
        self.cu = cu

    @staticmethod
    def check(status, call):
        """The one place a CUresult becomes an exception."""
        if status != 0:
            raise RuntimeError("%s failed (CUresult %d): stream-ordered calls need CUDA stream memory operations on "
                               "registered host memory; SS2D_CUDA_SYNC=1 makes calls synchronous instead" % (call, status))

    def context(self, index):
        """The primary context of device ``index`` (the one PyTorch uses), retained for the life of the process."""
        dev, ctx = ctypes.c_int(), ctypes.c_void_p()
        self.check(self.cu.cuDeviceGet(ctypes.byref(dev), index), "cuDeviceGet")
        self.check(self.cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev.value), "cuDevicePrimaryCtxRetain")
        return ctx.value

    def _in(self, ctx, fn, *args):
        # PyTorch's default stream is the legacy one (handle 0): the driver takes its context from the thread, which
        # must then be the device's. A thread whose current context differs gets it pushed for the call.
        cu = self.cu
        out = getattr(_tls, "ctx", None)
        if out is None:                  # this thread's out-argument, made once (not a c_void_p and byref per call)
            cur = ctypes.c_void_p()
            out = _tls.ctx = (cur, ctypes.byref(cur))
        if cu.cuCtxGetCurrent(out[1]) == 0 and out[0].value == ctx:
            return fn(*args)
        self.check(cu.cuCtxPushCurrent_v2(ctx), "cuCtxPushCurrent_v2")
        try:
            return fn(*args)
        finally:
            cu.cuCtxPopCurrent_v2(ctypes.byref(ctypes.c_void_p()))

    def register(self, ctx, addr, size):
        """Page-locks ``[addr, addr + size)`` for every context (PORTABLE) with a device address (DEVICEMAP)."""
        self.check(self._in(ctx, self.cu.cuMemHostRegister_v2, addr, size,
                            _CU_MEMHOSTREGISTER_PORTABLE | _CU_MEMHOSTREGISTER_DEVICEMAP), "cuMemHostRegister_v2")
        d = ctypes.c_uint64()
        self.check(self._in(ctx, self.cu.cuMemHostGetDevicePointer_v2, ctypes.byref(d), addr, 0),
                   "cuMemHostGetDevicePointer_v2")
        return d.value

    def wait(self, ctx, stream, dptr, value):
        self.check(self._in(ctx, self.cu.cuStreamWaitValue32_v2, stream, dptr, value, _CU_STREAM_WAIT_VALUE_GEQ),
                   "cuStreamWaitValue32_v2")

    def write(self, ctx, stream, dptr, value):
        self.check(self._in(ctx, self.cu.cuStreamWriteValue32_v2, stream, dptr, value, 0), "cuStreamWriteValue32_v2")


_driver = None
_tls = threading.local()
_raw_stream = None


def current_stream(index):
    """The handle of PyTorch's current stream on device ``index``: what ``torch.cuda.current_stream(index).cuda_stream``
    gives (0 for the legacy default stream), read without making a ``torch.cuda.Stream`` object per call (a test
    replaces this function)."""
    global _raw_stream
    if _raw_stream is None:
        import torch
        # torch._C._cuda_getCurrentRawStream(index) is at::cuda::getCurrentCUDAStream(index).stream(), the value the
        # cuda_stream property reads; a build without it takes the public path
        _raw_stream = getattr(torch._C, "_cuda_getCurrentRawStream", None) or \
            (lambda i: torch.cuda.current_stream(i).cuda_stream)
    return _raw_stream(index)


def driver():
    global _driver
    if _driver is None:
        _driver = Driver()
    return _driver


def behind(word, ticket):
    """Whether ``word`` has not reached ``ticket`` yet, in the cyclic order of the waits."""
    return ((word - ticket) & 0xFFFFFFFF) >= 0x80000000


class Flags:
    """One connection's page for one device: made here (a memfd the engine maps through /proc), registered for
    this process's streams. Used by one thread at a time (the connection's)."""

    __slots__ = ("index", "fd", "mm", "addr", "ctx", "dptr", "ticket", "stream", "drv", "_ready", "_done")

    def __init__(self, index, drv=None):
        self.drv = drv or driver()
        self.index = index
        self.fd = os.memfd_create("ss2d-flags-%d" % os.getpid(), os.MFD_CLOEXEC)
        mm = None
        try:
            os.ftruncate(self.fd, PAGE)
            mm = mmap.mmap(self.fd, PAGE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            # the words below are raw addresses into mm: the mapping lives as long as this object, which retire()
            # keeps for the process's life once registered
            self.mm = mm
            self.addr = ctypes.addressof(ctypes.c_char.from_buffer(mm))
            self._ready = ctypes.c_uint32.from_address(self.addr + READY)
            self._done = ctypes.c_uint32.from_address(self.addr + DONE)
            self.ctx = self.drv.context(index)
            self.dptr = self.drv.register(self.ctx, self.addr, PAGE)
        except BaseException:
            # nothing registered: give the descriptor and the mapping back (the caller falls back to synchronous calls)
            if mm is not None:
                mm.close()
            os.close(self.fd)
            raise
        self.ticket = 0
        self.stream = None

    def request(self):
        return {"op": "cuda_flags", "device": self.index, "fd": self.fd, "size": PAGE}

    def ready(self, stream):
        """Queues on ``stream`` the write of the next ticket (after the work queued there) and returns the ticket. A
        stream other than the last call's first waits for the last ticket: writes from two streams could otherwise
        land out of order and let the engine pass a ticket whose stream has not reached it."""
        k = (self.ticket + 1) & 0xFFFFFFFF
        if self.stream is not None and stream != self.stream:
            self.drv.wait(self.ctx, stream, self.dptr + READY, self.ticket)
        self.drv.write(self.ctx, stream, self.dptr + READY, k)
        self.ticket, self.stream = k, stream
        return k

    def wait_done(self, stream, k):
        """Queues on ``stream`` the wait for the engine's stream to have run call ``k``."""
        self.drv.wait(self.ctx, stream, self.dptr + DONE, k)

    def release(self):
        """The engine is gone (or no longer answers): writes the last ticket into ``done`` from the host, so that no
        stream of this process waits for the engine's stream any more. The outputs of unfinished calls are undefined."""
        if self.ticket and behind(self._done.value, self.ticket):
            self._done.value = self.ticket

    def words(self):
        return self._ready.value, self._done.value


# Pages of closed connections: a wait queued on one of this process's streams may still read the done word, so the
# page stays mapped and registered for the life of the process (one page per connection and device).
_retired = []


def retire(flags, release):
    if release:
        flags.release()
    _retired.append(flags)


def with_ticket(req, k):
    """``req`` (binary bytes or a JSON dict, built with the ordered flag) carrying ticket ``k``."""
    if type(req) is bytes:
        return req[:_TICKET_AT] + _TICKET.pack(k) + req[_TICKET_AT:]
    req = dict(req)
    req["ticket"] = k
    return req


def plain(req):
    """``req`` without the ordered flag: for an engine older than protocol 3, which gets synchronous calls."""
    if type(req) is bytes:
        return req[:2] + bytes([req[2] & ~_ORDERED]) + req[3:]
    req = dict(req)
    req["ordered"] = False
    return req
