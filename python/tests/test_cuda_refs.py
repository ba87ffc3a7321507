"""The CUDA reference path without a GPU: a stand-in for a torch CUDA tensor and for the CUDA driver's three calls
the package makes (cuPointerGetAttributes, cuMemGetAddressRange, cuIpcGetMemHandle), so that what the GPU host
runs (tests/test_cuda.py) is exercised up to the engine here: the binary reference is what the engine parses (it
answers that it has no CUDA backend, naming the argument), and an allocation's handle is exported once."""

import contextlib
import ctypes
import os
import shlex
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

import ss2d
from conftest import scan_inputs
from ss2d import _ops, _order, _refs

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
        self.lookups = 0

    def cuPointerGetAttributes(self, n, ids, data, ptr):
        assert n == 3 and list(ids) == [7, 11, 12]
        self.lookups += 1
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
    a = FakeCudaTensor((4,), 0)                                    # (a new tensor: the old one held the allocation)
    _refs.cuda_wire(a, "u", [])
    assert driver.exports == 2, "a new allocation is exported anew, whatever its address"
    driver.buffer_id = 0                                           # the driver could not tell: no caching on it
    for _ in range(2):
        _refs.cuda_wire(FakeCudaTensor((4,), 0), "u", [])
    assert driver.exports == 4, "without a buffer id every call exports"


def test_a_live_tensor_keeps_its_reference_until_its_pointer_or_shape_changes(driver):
    a = FakeCudaTensor((2, 3), 512)
    first = _refs.cuda_wire(a, "u", [])
    keep = []
    assert _refs.cuda_wire(a, "u", keep) == first and keep == [a], "the same bytes, the tensor kept for the call"
    assert driver.lookups == 1, "no driver call for a tensor already sent"
    a._ptr += 4096                                                 # set_() elsewhere: looked up again
    assert _refs.cuda_wire(a, "u", []) != first and driver.lookups == 2
    a.shape = torch.Size((3, 2))
    w = _refs.cuda_wire(a, "u", [])
    assert struct.unpack_from("<2q", w, struct.calcsize("<Biqq64s")) == (3, 2) and driver.lookups == 3


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU host runs the real thing (tests/test_cuda.py)")
def test_a_cuda_reference_reaches_the_engine_in_a_binary_frame(driver, monkeypatch):
    # u on the host (so the output is a host array; torch.empty cannot make a stand-in CUDA tensor), delta "on the GPU";
    # the synchronous mode sends the frame as is
    monkeypatch.setattr(_refs, "CUDA_ORDERED", False)
    x = {k: ss2d.shared(v) for k, v in scan_inputs(51).items()}
    delta = FakeCudaTensor(x["delta"].shape, 0)
    for _ in range(2):
        with pytest.raises(NotImplementedError, match="^delta: a CUDA tensor, but this engine has no CUDA backend"):
            ss2d.selective_scan(x["u"], delta, x["A"], x["B"], x["C"])
    assert driver.exports == 1


class Log(list):
    """What the stand-ins for PyTorch's streams, for the driver's stream memory operations and for the engine saw."""


class OrderDriver:
    """Stands in for _order.Driver: logs each stream operation by word and stream; a device address is the host one
    (unified addressing), a write lands at once (as if the stream had nothing before it), a wait passes."""

    def __init__(self, log):
        self.log = log
        self.registered = []

    def context(self, index):
        return 0xC0 + index

    def register(self, ctx, addr, size):
        self.registered.append((ctx, size))
        self.log.append("register")
        return addr

    @staticmethod
    def _word(dptr):
        return {_order.READY: "ready", _order.DONE: "done"}[dptr % _order.PAGE]     # pages are page-aligned

    def wait(self, ctx, stream, dptr, value):
        self.log.append("%s waits %s %d" % (stream, self._word(dptr), value))

    def write(self, ctx, stream, dptr, value):
        self.log.append("%s writes %s %d" % (stream, self._word(dptr), value))
        ctypes.c_uint32.from_address(dptr).value = value


class FakeStream:
    def __init__(self, name):
        self.cuda_stream = name


class FakeSocket:
    def fileno(self):
        return 3

    def close(self):
        pass


def _connection():
    from ss2d import _engine
    c = _engine.Connection.__new__(_engine.Connection)
    c.sock, c.flags, c.timeout = FakeSocket(), {}, 1.0
    return c


@pytest.fixture
def fake_torch(monkeypatch):
    log = Log()
    drv = OrderDriver(log)
    monkeypatch.setattr(_order, "_driver", drv)
    streams = {"current": "S1"}
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: FakeStream(streams["current"]))
    monkeypatch.setattr(_order, "current_stream", lambda index: streams["current"])     # the raw handle's reader
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: False)
    log.streams = streams
    return log


def _fake_engine(log, replies):
    """An Engine whose one connection is a stand-in and whose exchanges answer from ``replies`` (a reply dict, or an
    exception to raise, closing the connection as a lost engine does), logging each request and its ticket."""
    from ss2d import _engine
    e = _engine.Engine()
    conn = _connection()
    e._acquire = lambda start=True: conn
    e.sent = []

    def exchange(c, req):
        log.append("send %s" % _engine.op_name(req))
        e.sent.append(req)
        r = replies.pop(0)
        if isinstance(r, BaseException):
            c.close(release=True)          # as _exchange does for a lost engine
            raise r
        return r

    e._exchange = exchange
    return e, conn


def _ordered(op=_ops.OP_CROSS_SCAN):
    return _ops.binary(op, None, _ops.ORDERED, 0, [])


def test_a_stream_ordered_call_writes_its_ticket_before_sending_and_waits_after_the_reply(fake_torch):
    log = fake_torch
    ok = {"ok": True}
    eng, conn = _fake_engine(log, [ok, ok, ok])
    eng.call_cuda(_ordered(), FakeDevice())
    assert log == ["register", "send cuda_flags", "S1 writes ready 1", "send cross_scan", "S1 waits done 1"], log
    flags_req = eng.sent[0]
    assert flags_req["op"] == "cuda_flags" and flags_req["size"] == _order.PAGE and flags_req["device"] == 0
    assert flags_req["fd"] == conn.flags[0].fd, "the page's memfd, which the engine maps through /proc"
    req = eng.sent[1]
    assert len(req) == len(_ordered()) + 4 and struct.unpack_from("<I", req, 12) == (1,), "ticket 1 after the handle"
    assert req[2] & _ops.ORDERED
    del log[:]
    eng.call_cuda(_ordered(), FakeDevice())
    assert log == ["S1 writes ready 2", "send cross_scan", "S1 waits done 2"], \
        "the page is set up once per connection and device, tickets count up: %s" % log
    assert eng.idle == [conn, conn]


def test_another_stream_first_waits_for_the_last_ticket(fake_torch):
    log = fake_torch
    eng, conn = _fake_engine(log, [{"ok": True}] * 3)
    eng.call_cuda(_ordered(), FakeDevice())
    log.streams["current"] = "S2"
    del log[:]
    eng.call_cuda(_ordered(), FakeDevice())
    assert log == ["S2 waits ready 1", "S2 writes ready 2", "send cross_scan", "S2 waits done 2"], \
        "two streams' writes could land out of order: %s" % log


def test_tickets_wrap_around(fake_torch):
    log = fake_torch
    eng, conn = _fake_engine(log, [{"ok": True}] * 3)
    eng.call_cuda(_ordered(), FakeDevice())
    conn.flags[0].ticket = 0xFFFFFFFF
    del log[:]
    eng.call_cuda(_ordered(), FakeDevice())
    assert log == ["S1 writes ready 0", "send cross_scan", "S1 waits done 0"], log
    assert _order.behind(0xFFFFFFFF, 0) and not _order.behind(0, 0xFFFFFFFF) and not _order.behind(5, 5)


def test_an_error_reply_waits_only_when_the_engine_wrote_done(fake_torch):
    log = fake_torch
    eng, conn = _fake_engine(log, [{"ok": True},
                                   {"ok": False, "kind": "failed", "message": "CudaException: boom", "done": True},
                                   {"ok": False, "kind": "argument", "message": "u: expected something"}])
    with pytest.raises(ss2d.EngineError, match="^CudaException: boom$"):
        eng.call_cuda(_ordered(), FakeDevice())
    assert log[-2:] == ["send cross_scan", "S1 waits done 1"], "work the engine launched before failing is waited for: %s" % log
    del log[:]
    with pytest.raises(ValueError, match="^u: expected something$"):
        eng.call_cuda(_ordered(), FakeDevice())
    assert log == ["S1 writes ready 2", "send cross_scan"], "refused before anything was queued: no wait: %s" % log
    assert eng.idle == [conn, conn]


def test_a_lost_engine_releases_the_streams_waits_from_the_host(fake_torch):
    log = fake_torch
    eng, conn = _fake_engine(log, [{"ok": True}, {"ok": True}, ss2d.EngineError("the engine went away")])
    eng.call_cuda(_ordered(), FakeDevice())
    flags = conn.flags[0]
    assert flags.words() == (1, 0), "the stand-in stream wrote ready; no engine wrote done"
    with pytest.raises(ss2d.EngineError, match="went away"):
        eng.call_cuda(_ordered(), FakeDevice())
    assert log[-2:] == ["S1 writes ready 2", "send cross_scan"], "no wait queued for a lost engine: %s" % log
    assert flags.words()[1] == 2, "done written from the host: the wait for call 1 passes (and anything up to 2)"
    assert conn.flags == {} and flags in _order._retired, "the page stays mapped for the life of the process"


def test_a_connection_closed_with_the_engine_alive_leaves_done_to_the_engine(fake_torch):
    log = fake_torch
    eng, conn = _fake_engine(log, [{"ok": True}, {"ok": True}])
    eng.call_cuda(_ordered(), FakeDevice())
    flags = conn.flags[0]
    eng._forget()                      # as shutdown() does: the engine drains its stream before it exits
    assert flags.words() == (1, 0) and flags in _order._retired, \
        "done is the engine's to write while it lives (an early host write would let PyTorch run before the op)"


def test_a_broken_order_raises_and_drops_the_connection(fake_torch):
    log = fake_torch
    eng, conn = _fake_engine(log, [{"ok": True}, {"ok": False, "kind": "broken", "message": "stream order broken: late"}])
    with pytest.raises(ss2d.StreamOrderError, match="^stream order broken: late$"):
        eng.call_cuda(_ordered(), FakeDevice())
    assert log[-1] == "send cross_scan" and eng.idle == [] and conn.flags == {}, log


def test_refused_flags_raise_and_keep_the_connection(fake_torch):
    log = fake_torch
    eng, conn = _fake_engine(log, [{"ok": False, "kind": "unsupported", "message": "cuda_flags: no CUDA backend"}])
    with pytest.raises(NotImplementedError, match="^cuda_flags: no CUDA backend$"):
        eng.call_cuda(_ordered(), FakeDevice())
    assert conn.flags == {} and eng.idle == [conn], "the connection goes back to the pool without a page"


def test_a_driver_or_engine_without_stream_memory_operations_falls_back_to_synchronous_calls(fake_torch, monkeypatch):
    log = fake_torch
    synced = []
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: type("S", (), {
        "synchronize": lambda self: synced.append(device), "cuda_stream": "S1"})())

    def refuse(ctx, addr, size):
        raise RuntimeError("cuMemHostRegister_v2 failed (CUresult 801)")
    monkeypatch.setattr(_order._driver, "register", refuse)
    eng, conn = _fake_engine(log, [{"ok": True}, {"ok": True}])
    with pytest.warns(RuntimeWarning, match="cuda:0 are synchronous: stream order could not be set up in this process: "
                                            "cuMemHostRegister_v2 failed"):
        eng.call_cuda(_ordered(), FakeDevice())
    eng.call_cuda(_ordered(), FakeDevice())
    assert log == ["send cross_scan", "send cross_scan"] and len(synced) == 2, "synchronised, sent plainly: %s" % log
    assert all(r == _order.plain(_ordered()) for r in eng.sent) and conn.flags == {}

    monkeypatch.undo()
    log = Log()
    monkeypatch.setattr(_order, "_driver", OrderDriver(log))
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: type("S", (), {
        "synchronize": lambda self: synced.append(device), "cuda_stream": "S1"})())
    monkeypatch.setattr(_order, "current_stream", lambda index: "S1")
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: False)
    eng, conn = _fake_engine(log, [{"ok": False, "kind": "failed", "message": "CudaException: cuStreamWaitValue32_v2"},
                                   {"ok": True}])
    with pytest.warns(RuntimeWarning, match="in the engine: CudaException: cuStreamWaitValue32_v2"):
        eng.call_cuda(_ordered(), FakeDevice())
    assert log == ["register", "send cuda_flags", "send cross_scan"] and eng.unordered == {0}, log


def test_the_json_form_carries_the_ticket_too():
    req = {"op": "cross_scan", "ordered": True}
    assert _order.with_ticket(req, 7) == {"op": "cross_scan", "ordered": True, "ticket": 7} and "ticket" not in req
    assert _order.plain(req)["ordered"] is False
    assert _order.plain(_ordered())[2] == 0 and len(_order.plain(_ordered())) == len(_ordered())


def test_calls_on_cuda_tensors_are_ordered_unless_the_sync_mode_is_on(driver, monkeypatch):
    # neither path reaches an engine (on a GPU host the stand-in's handle would go to a real CUDA backend)
    sent, plain, synced = [], [], []
    from ss2d import _engine
    eng = _engine.engine()
    monkeypatch.setattr(eng, "call_cuda", lambda req, device: sent.append((req, device)) or {"ok": True})
    monkeypatch.setattr(_engine, "call", lambda req: plain.append(req) or {"ok": True})
    monkeypatch.setattr(_ops, "sync_cuda", lambda *a: synced.append(a))
    x = {k: ss2d.shared(v) for k, v in scan_inputs(52).items()}
    delta = FakeCudaTensor(x["delta"].shape, 0)
    monkeypatch.setattr(_refs, "CUDA_ORDERED", True)                # the default
    ss2d.selective_scan(x["u"], delta, x["A"], x["B"], x["C"], delta_softplus=True)
    (req, device), = sent
    assert req[2] == _ops.ORDERED | _ops.SOFTPLUS and device is delta.device, "flags %d" % req[2]
    assert plain == [] and synced == [], "an ordered call neither synchronises nor goes plainly"
    monkeypatch.setattr(_refs, "CUDA_ORDERED", False)               # SS2D_CUDA_SYNC=1
    ss2d.selective_scan(x["u"], delta, x["A"], x["B"], x["C"], delta_softplus=True)
    (req,), = [plain]
    assert req[2] == _ops.SOFTPLUS and len(sent) == 1 and len(synced) == 1, \
        "the sync mode synchronises and sends plainly: flags %d, %d ordered" % (req[2], len(sent))
    assert any(v is delta for v in synced[0]), "the CUDA input's stream is synchronised"


def test_the_ordered_mode_is_the_default_and_sync_overrides_it():
    for env, ordered in [({}, True), ({"SS2D_CUDA_ORDERED": "1"}, True), ({"SS2D_CUDA_ORDERED": "0"}, False),
                         ({"SS2D_CUDA_SYNC": "1"}, False), ({"SS2D_CUDA_SYNC": "0"}, True),
                         ({"SS2D_CUDA_ORDERED": "1", "SS2D_CUDA_SYNC": "1"}, False),
                         ({"SS2D_CUDA_ORDERED": "false"}, False), ({"SS2D_CUDA_ORDERED": "OFF"}, False),
                         ({"SS2D_CUDA_SYNC": "false"}, True), ({"SS2D_CUDA_SYNC": "no"}, True),
                         ({"SS2D_CUDA_SYNC": "true"}, False), ({"SS2D_CUDA_ORDERED": ""}, True)]:
        assert _refs.cuda_ordered(env) is ordered, env


def test_a_call_during_cuda_graph_capture_is_refused(fake_torch, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: True)
    eng, conn = _fake_engine(fake_torch, [])
    with pytest.raises(NotImplementedError, match="cannot be captured in a CUDA graph"):
        eng.call_cuda(_ordered(), FakeDevice())
    assert fake_torch == [], "nothing written or sent"


def test_an_older_engine_gets_synchronous_calls(fake_torch, monkeypatch):
    synced = []
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: type("S", (), {
        "synchronize": lambda self: synced.append(device)})())
    eng, conn = _fake_engine(fake_torch, [{"ok": True}])
    eng.protocol = 2                                               # its hello said protocol 2: interprocess events
    eng.call_cuda(_ordered(), FakeDevice())
    assert fake_torch == ["send cross_scan"] and len(synced) == 1, "synchronised, then sent plainly: %s" % fake_torch
    assert eng.sent[0] == _order.plain(_ordered()), "without the ordered flag or a ticket"


FAKE_LIBCUDA = Path(__file__).resolve().parents[2] / "cli" / "target" / "fake-gpu" / "libcuda.so.1"


@pytest.fixture
def fake_gpu_engine(monkeypatch, fake_torch, driver):
    """An engine of this test's own on the cli module's fake libcuda.so.1 (an H100 that runs no kernel, built by
    StreamOrderedCallsTest): its CUDA backend is available, so stream-ordered calls go through it for real."""
    if torch.cuda.is_available():
        pytest.skip("a GPU host runs the real thing (tests/test_cuda.py)")
    if not FAKE_LIBCUDA.exists():
        pytest.skip("no %s (the cli module's tests build it)" % FAKE_LIBCUDA)
    from ss2d import _engine
    folder = tempfile.mkdtemp(prefix="ss2d-fake-gpu-")
    monkeypatch.setenv("SS2D_SOCKET", os.path.join(folder, "engine.sock"))
    monkeypatch.setenv("SS2D_ENGINE", shlex.join(["env", "LD_LIBRARY_PATH=%s" % FAKE_LIBCUDA.parent]
                                                 + _engine.engine_command()))
    monkeypatch.setattr(_engine, "_engine", None)
    monkeypatch.setattr(_refs, "CUDA_ORDERED", True)
    eng = _engine.engine()
    try:
        yield eng
    finally:
        eng._forget()
        ss2d.shutdown()
        if eng.process is not None:
            try:
                eng.process.wait(20)
            except subprocess.TimeoutExpired:
                eng.process.kill()
                eng.process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def test_ordered_calls_reach_an_engine_on_the_fake_driver_and_its_done_lands_in_the_shared_page(fake_gpu_engine, fake_torch,
                                                                                               monkeypatch):
    """The whole protocol, this process against a real engine whose driver is the fake: cuda_flags hands over the page
    (the engine maps it through /proc), each call carries its ticket where the engine reads it, and the engine's
    stream writes the ticket into done: the fake driver's write lands in the engine's mapping of the page, which is
    this process's page. Every tensor is a stand-in in one fake allocation (the engine's fake IPC mapping is 1 MiB)."""
    eng = fake_gpu_engine
    cuda = {b["name"]: b for b in ss2d.backends()}["cuda"]
    assert cuda["available"] and "fake driver" in cuda["device"], cuda
    x = scan_inputs(53)
    t = {k: FakeCudaTensor(v.shape, 16384 * i) for i, (k, v) in enumerate(x.items())}
    outs = iter(range(1 << 19, SIZE, 16384))
    monkeypatch.setattr(_ops, "new_output", lambda shape, like, keep: (
        lambda o: (o, _refs.cuda_wire(o, "out", keep)))(FakeCudaTensor(tuple(shape), next(outs))))
    run = lambda **kw: ss2d.selective_scan(**{**dict(u=t["u"], delta=t["delta"], A=t["A"], B=t["B"], C=t["C"]), **kw})  # noqa: E731
    for _ in range(3):
        run()
    flags = next(c.flags[0] for c in eng.idle if c.flags)
    assert flags.words() == (3, 3), "ready written here, done written by the engine's stream: %s" % (flags.words(),)
    assert fake_torch == ["register"] + ["S1 %s %d" % (op, k) for k in (1, 2, 3) for op in ("writes ready", "waits done")], \
        fake_torch
    assert ss2d.stats()["engine"]["cuda_flags"] == 1

    # refused by the facade, after the engine's wait was queued: done is written and waited for (nothing launched)
    with pytest.raises(ValueError, match="^delta: expected shape"):
        run(delta=FakeCudaTensor((2, 8, 32), 16384))
    assert flags.words() == (4, 4) and fake_torch[-1] == "S1 waits done 4", fake_torch
    # refused while the tensors are viewed, before any wait: no done, none awaited
    with pytest.raises(ValueError, match="^delta: expected a float32.* inside its CUDA allocation"):
        run(delta=FakeCudaTensor(x["delta"].shape, SIZE - 1024))
    assert flags.words() == (5, 4) and fake_torch[-1] == "S1 writes ready 5", fake_torch
    run()
    assert flags.words() == (6, 6) and fake_torch[-1] == "S1 waits done 6", fake_torch
