"""The CUDA reference path without a GPU: a stand-in for a torch CUDA tensor and for the CUDA driver's three calls
the package makes (cuPointerGetAttributes, cuMemGetAddressRange, cuIpcGetMemHandle), so that what the GPU host
runs (tests/test_cuda.py) is exercised up to the engine here: the binary reference is what the engine parses (it
answers that it has no CUDA backend, naming the argument), and an allocation's handle is exported once."""

import contextlib
import ctypes
import struct

import pytest

import ss2d
from conftest import scan_inputs
from ss2d import _ops, _refs

torch = pytest.importorskip("torch")
BASE, SIZE = 0x7F0000000000, 1 << 20


class FakeDevice:
    type = "cuda"
    index = 0


class FakeCudaTensor:
    is_cuda = True
    dtype = torch.float32

    def __init__(self, shape, offset):
        self.shape = torch.Size(shape)
        self.device = FakeDevice()
        self._ptr = BASE + offset

    def data_ptr(self):
        return self._ptr

    def is_contiguous(self):
        return True


FakeCudaTensor.__module__ = "torch.fake"          # kind_of() tells torch tensors by their module


class FakeDriver:
    def __init__(self):
        self.buffer_id = 4242
        self.exports = 0

    def cuPointerGetAttributes(self, n, ids, data, ptr):
        assert n == 3 and list(ids) == [7, 11, 12]
        ctypes.c_uint64.from_address(data[0]).value = self.buffer_id
        ctypes.c_uint64.from_address(data[1]).value = BASE
        ctypes.c_size_t.from_address(data[2]).value = SIZE
        return 0

    def cuMemGetAddressRange_v2(self, base, size, ptr):
        base._obj.value, size._obj.value = BASE, SIZE
        return 0

    def cuIpcGetMemHandle(self, handle, base):
        self.exports += 1
        ctypes.memmove(handle, bytes([self.exports]) * 64, 64)
        return 0


@pytest.fixture
def driver(monkeypatch):
    d = FakeDriver()
    monkeypatch.setattr(_refs, "_libcuda", d)
    monkeypatch.setattr(_refs, "_handles", {})
    monkeypatch.setattr(_refs, "_device", lambda t: contextlib.nullcontext())
    monkeypatch.setattr(_ops, "sync_cuda", lambda *a: None)
    return d


def test_the_binary_cuda_reference_is_what_the_frame_says(driver):
    t = FakeCudaTensor((2, 3, 5), offset=4096)
    w = _refs.cuda_wire(t, "delta", [])
    rank, device, alloc, off, handle = struct.unpack_from("<Biqq64s", w)
    assert (rank, device, alloc, off, handle) == (3 | 0x80, 0, SIZE, 4096, bytes([1]) * 64)
    assert struct.unpack_from("<3q", w, struct.calcsize("<Biqq64s")) == (2, 3, 5)
    assert len(w) == struct.calcsize("<Biqq64s") + 3 * 8


def test_an_allocation_is_exported_once_and_again_when_replaced(driver):
    a, b = FakeCudaTensor((4,), 0), FakeCudaTensor((4,), 256)      # two tensors of one allocation
    _refs.cuda_wire(a, "u", [])
    _refs.cuda_wire(b, "u", [])
    assert driver.exports == 1, "one cuIpcGetMemHandle per allocation"
    driver.buffer_id += 1                                          # freed and allocated again at the same address
    _refs.cuda_wire(a, "u", [])
    assert driver.exports == 2, "a new allocation is exported anew, whatever its address"
    driver.buffer_id = 0                                           # the driver could not tell: no caching on it
    _refs.cuda_wire(a, "u", [])
    _refs.cuda_wire(a, "u", [])
    assert driver.exports == 4, "without a buffer id every call exports"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU host runs the real thing (tests/test_cuda.py)")
def test_a_cuda_reference_reaches_the_engine_in_a_binary_frame(driver):
    # u on the host (so the output is a host array; torch.empty cannot make a stand-in CUDA tensor), delta "on the GPU"
    x = {k: ss2d.shared(v) for k, v in scan_inputs(51).items()}
    delta = FakeCudaTensor(x["delta"].shape, 0)
    for _ in range(2):
        with pytest.raises(NotImplementedError, match="^delta: a CUDA tensor, but this engine has no CUDA backend"):
            ss2d.selective_scan(x["u"], delta, x["A"], x["B"], x["C"])
    assert driver.exports == 1
