"""Shared memory that this process and the engine both map.

Memory comes in segments: anonymous files (``memfd_create``) mapped here with MAP_SHARED; the engine maps
the same file through ``/proc/<this pid>/fd/<fd>`` the first time a tensor in it is used, so no byte is
copied either way. A segment lives until this process exits; its memory goes back to the kernel once
both processes have unmapped it, whichever exits first (nothing is left in the file system).

Blocks are cut from the segments in power-of-two sizes (64-byte aligned) and reused through free lists.
A block is freed when the last numpy array (torch tensor, pyarrow buffer) viewing it is collected: the
array's ``base`` is the block. Pages of a block that were never written are never committed, so the
rounding up costs address space, not memory.
"""

import collections
import ctypes
import math
import mmap
import os
import struct
import threading

import numpy as np

_MIN_SEGMENT = 256 << 20
_MIN_BLOCK = 64


class Segment:
    __slots__ = ("id", "fd", "size", "mm", "addr", "top")

    def __init__(self, seg_id, size):
        self.id = seg_id
        self.size = size
        self.fd = os.memfd_create("ss2d-%d-%d" % (os.getpid(), seg_id), os.MFD_CLOEXEC)
        os.ftruncate(self.fd, size)
        self.mm = mmap.mmap(self.fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        # The export pins the mapping for the life of the process (blocks hand out raw addresses).
        self.addr = ctypes.addressof(ctypes.c_char.from_buffer(self.mm))
        self.top = 0


_WIRE = struct.Struct("<BIiqq")       # rank, segment id, fd, segment size, byte offset (then the sizes)
_sizes = {}                            # rank -> Struct of that many int64 sizes
_strides = {}                          # (shape, itemsize) -> C-order strides
_layouts = {}                          # (segment, offset, shape, dtype) -> (strides, wire, array interface)
_MAX_LAYOUTS = 8192


def wire(seg, offset, shape):
    """A tensor's reference in the engine's binary frames (see the engine's Frames class), without its slot byte."""
    n = len(shape)
    st = _sizes.get(n)
    if st is None:
        st = _sizes[n] = struct.Struct("<%dq" % n)
    return _WIRE.pack(n, seg.id, seg.fd, seg.size, offset) + st.pack(*shape)


def c_strides(shape, itemsize):
    key = (shape, itemsize)
    s = _strides.get(key)
    if s is None:
        out, step = [], itemsize
        for d in reversed(shape):
            out.append(step)
            step *= d
        s = tuple(reversed(out))
        if len(_strides) < 4096:
            _strides[key] = s
    return s


class Block:
    """``nbytes`` of shared memory at ``segment.addr + offset``; numpy views it through the array interface.
    ``wire`` is its reference in a request, made once: a block is sent with every call that uses it."""

    __slots__ = ("segment", "offset", "capacity", "shape", "strides", "dtype", "wire", "__array_interface__",
                 "_pool", "__weakref__")

    def __init__(self, pool, segment, offset, capacity, shape, dtype):
        self._pool = pool
        self.segment = segment
        self.offset = offset
        self.capacity = capacity
        self.shape = shape
        self.dtype = dtype
        # The strides of the whole C-ordered array: an array of this block with the same shape and strides is
        # that whole array (a view cannot reach past its extent), so its address needs no lookup. What a place
        # and shape imply is made once: the pool hands the same places out again and again (a freed output's
        # block to the next output), and making it took half of a small call's Python time.
        key = (segment, offset, shape, dtype.num)
        lay = _layouts.get(key)
        if lay is None:
            lay = (c_strides(shape, dtype.itemsize), wire(segment, offset, shape),
                   {"data": (segment.addr + offset, False), "shape": shape, "typestr": dtype.str, "version": 3})
            if len(_layouts) >= _MAX_LAYOUTS:
                _layouts.clear()
            _layouts[key] = lay
        self.strides, self.wire, self.__array_interface__ = lay

    def __del__(self):
        pool = self._pool
        if pool is not None:
            pool._release(self.segment, self.offset, self.capacity)


class Pool:
    """The process's shared memory: segments, and blocks handed out of them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._segments = []
        self._free = collections.defaultdict(collections.deque)   # capacity -> deque of (segment, offset)
        self._pid = os.getpid()
        self.blocks_allocated = 0
        self.segments_created = 0

    def array(self, shape, dtype=np.float32):
        """A new numpy array in shared memory (contents undefined)."""
        dtype = np.dtype(dtype)
        shape = tuple(shape)
        n = math.prod(shape) * dtype.itemsize
        cap = max(_MIN_BLOCK, 1 << max(0, (n - 1).bit_length()))
        free = self._free[cap]
        try:
            seg, off = free.pop()       # deque.pop is atomic: no lock, so a __del__ that runs here is safe
        except IndexError:
            seg, off = self._carve(cap)
        self.blocks_allocated += 1
        return np.asarray(Block(self, seg, off, cap, shape, dtype))

    def _carve(self, cap):
        with self._lock:
            seg = self._segments[-1] if self._segments else None
            if seg is None or seg.top + cap > seg.size:
                seg = Segment(len(self._segments) + 1, max(_MIN_SEGMENT, cap))
                self._segments.append(seg)
                self.segments_created += 1
            off = seg.top
            seg.top += cap
            return seg, off

    def _release(self, seg, off, cap):
        # In a forked child this is the parent's pool, no longer used to cut blocks: the entry is harmless.
        self._free[cap].append((seg, off))

    def locate(self, addr, nbytes):
        """(segment, offset) when ``[addr, addr + nbytes)`` lies inside one segment of this pool, else None."""
        for seg in self._segments:
            off = addr - seg.addr
            if 0 <= off and off + nbytes <= seg.size:
                return seg, off
        return None

    def segments(self):
        return list(self._segments)


_pool = None
_pool_lock = threading.Lock()


def pool():
    global _pool
    p = _pool
    if p is None:
        with _pool_lock:
            if _pool is None:
                _pool = Pool()
            p = _pool
    return p


def _after_fork():
    # The parent's segments stay mapped in the child, but cutting blocks from them would race the parent.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()
    _layouts.clear()


os.register_at_fork(after_in_child=_after_fork)
