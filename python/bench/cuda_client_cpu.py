"""No GPU needed: the client's Python per call on CUDA tensors, with stand-ins for what needs one (a CUDA tensor, the
driver, PyTorch's stream queries, torch.empty on a device, the engine's reply), so that changes to the client's
path can be measured where there is no GPU. What the stand-ins cost is not the real thing: the GPU host's
``cuda_call_parts.py`` gives those; this gives the Python around them, before and after a change.

    python3 python/bench/cuda_client_cpu.py [--calls 20000] [--rounds 5] [--src OTHER_TREE/python/src]
"""

import argparse
import contextlib
import ctypes
import gc
import statistics
import sys
import time
from pathlib import Path

# --src FOLDER: another tree's package (to compare before and after a change in one session)
_src = sys.argv[sys.argv.index("--src") + 1] if "--src" in sys.argv else str(Path(__file__).resolve().parents[1] / "src")
sys.path[:0] = [_src]

import torch  # noqa: E402

from ss2d import _engine, _ops, _order, _refs  # noqa: E402

BASE, SIZE = 0x7F0000000000, 1 << 30


class Device:
    type = "cuda"
    index = 0


class Tensor:
    """Stands in for a float32, contiguous torch CUDA tensor (attributes in Python: cheaper than torch's own)."""
    is_cuda = True
    dtype = torch.float32
    device = Device()

    def __init__(self, shape, ptr):
        self.shape = torch.Size(shape)
        self._ptr = ptr

    def data_ptr(self):
        return self._ptr

    def is_contiguous(self):
        return True


Tensor.__module__ = "torch.stand_in"


class Cu:
    """The three calls of a reference, answering for one allocation (a Python call, as cheap as a ctypes one)."""

    def cuPointerGetAttributes(self, n, ids, data, ptr):
        ctypes.c_uint64.from_address(data[0]).value = 7
        ctypes.c_uint64.from_address(data[1]).value = BASE
        ctypes.c_size_t.from_address(data[2]).value = SIZE
        return 0

    def cuMemGetAddressRange_v2(self, base, size, ptr):
        base._obj.value, size._obj.value = BASE, SIZE
        return 0

    def cuIpcGetMemHandle(self, handle, base):
        return 0


class OrderDriver:
    def context(self, index):
        return 1

    def register(self, ctx, addr, size):
        return addr

    def wait(self, ctx, stream, dptr, value):
        pass

    def write(self, ctx, stream, dptr, value):
        pass


class Stream:
    cuda_stream = 0x5000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--src", help="the folder of the ss2d package to time (default: this tree's)")
    a = ap.parse_args()
    _refs._libcuda = Cu()
    _refs._device = lambda t: contextlib.nullcontext()
    _order._driver = OrderDriver()
    torch.cuda.current_stream = lambda device=None: Stream()
    torch.cuda.is_current_stream_capturing = lambda: False
    if hasattr(_order, "current_stream"):
        _order.current_stream = lambda index: 0x5000
    nxt = [BASE + (1 << 20)]

    def empty(shape, dtype=None, device=None):
        nxt[0] += 1 << 12
        return Tensor(shape, nxt[0])
    torch.empty = empty

    eng = _engine.Engine()
    conn = _engine.Connection.__new__(_engine.Connection)
    conn.flags = {}
    conn.sock = None
    eng.idle.append(conn)
    eng._exchange = lambda c, req: {"ok": True} if type(req) is bytes else {"ok": True}
    _engine._engine = eng
    if hasattr(_engine, "engine"):
        _engine.engine = lambda: eng
    bt, d, g, l, n = 32, 768, 4, 3136, 1                    # S1's shapes (no memory behind them)
    u, delta = Tensor((bt, d, l), BASE), Tensor((bt, d, l), BASE + 1)
    A, D, bias = Tensor((d, n), BASE + 2), Tensor((d,), BASE + 3), Tensor((d,), BASE + 4)
    B, C = Tensor((bt, g, n, l), BASE + 5), Tensor((bt, g, n, l), BASE + 6)
    scan = _ops.selective_scan

    def one():
        scan(u, delta, A, B, C, D, delta_bias=bias, delta_softplus=True)
    parts = {
        "selective_scan (S1 arguments, 7 CUDA inputs), the whole Python call": one,
        "  cuda_wire of an input already sent": lambda: _refs.cuda_wire(u, "u", []),
        "  new_output (stand-in torch.empty + its reference)": lambda: _refs.new_output((bt, d, l), u, []),
        "  call_cuda (stand-in driver and reply)": lambda: eng.call_cuda(req, Device()),
    }
    req = _ops.binary(_ops.OP_SCAN, None, _ops.ORDERED, 0, [])
    one()
    for name, fn in parts.items():
        meds = []
        for _ in range(a.rounds):
            gc.collect()
            t0 = time.perf_counter()
            for _ in range(a.calls):
                fn()
            meds.append((time.perf_counter() - t0) / a.calls * 1e6)
        print("%-70s %6.2f us  (rounds %s)" % (name, statistics.median(meds), ", ".join("%.2f" % m for m in meds)))


if __name__ == "__main__":
    main()
