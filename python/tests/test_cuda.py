"""CUDA tensors (GPU host only: skipped without torch.cuda). A torch.cuda tensor goes to the engine as the CUDA
IPC handle of its allocation and its offset there; the engine maps the allocation once per session and runs on it
in place. Calls are stream-ordered by default (the connection's page of counters: PyTorch's current stream writes the
call's ticket into ``ready``, the engine's stream waits for it, runs the op and writes the ticket into ``done``, the
current stream waits for that; nobody waits on the host) and synchronous with SS2D_CUDA_SYNC=1 (the client
synchronises PyTorch's current stream before sending, the engine its stream before replying); the tests run in both
modes (the ``mode`` fixture).

No test waits without a deadline: every engine call has one (the connections' timeout, set below), results are
read only after ``settle()`` saw the current stream finish (polled, 60 s), and processes are joined with timeouts,
so an ordering mistake (a wait for a word nobody writes) fails here by name instead of hanging the suite. The
killed-client and deadline tests run against engines of their own, so that an engine they wedge serves no other test."""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import pytest

import reference
import ss2d
from conftest import HERE, REPO, golden, scan_inputs, within
from ss2d import _engine, _refs

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (torch.cuda.is_available() is False)")]
SETTLE_S = 60
CALL_TIMEOUT_S = 30
# spinning cycles that keep the current stream busy for a while (~0.2 s at 2 GHz): long enough that a call which
# waited on the host for the stream would visibly have done so, and that an engine not waiting for the client's
# ticket would read the inputs before their producer ran
BUSY_CYCLES = int(4e8)


@pytest.fixture(scope="module", autouse=True)
def cuda_backend():
    names = {b["name"]: b for b in ss2d.backends()}
    if not names.get("cuda", {}).get("available"):
        pytest.fail("torch sees a GPU but the engine's CUDA backend is unavailable: %s" % names.get("cuda", {}).get("reason"))
    # a short timeout on the connections these tests open: a stuck engine is an EngineTimeoutError, not a hang
    old = os.environ.get("SS2D_TIMEOUT")
    ss2d.set_timeout(CALL_TIMEOUT_S)
    _engine.engine()._forget()
    yield
    if old is None:
        os.environ.pop("SS2D_TIMEOUT", None)
    else:
        os.environ["SS2D_TIMEOUT"] = old
    _engine.engine()._forget()


@pytest.fixture(params=["ordered", "sync"])
def mode(request, monkeypatch):
    monkeypatch.setattr(_refs, "CUDA_ORDERED", request.param == "ordered")
    return request.param


def settle(what, stream=None, timeout=SETTLE_S):
    """Polls until ``stream`` (the current one) has run everything queued, or fails naming ``what``."""
    s = stream or torch.cuda.current_stream()
    deadline = time.monotonic() + timeout
    while not s.query():
        if time.monotonic() > deadline:
            pytest.fail("%s: the stream did not finish within %d s (a wait for a word that nobody writes?)"
                        % (what, timeout))
        time.sleep(0.001)


def host(t, what):
    settle(what)
    return t.cpu().numpy()


def _cuda(x):
    return {k: torch.from_numpy(v).cuda() for k, v in x.items()}


@pytest.mark.parametrize("groups", [1, 2])
def test_scan_on_cuda_tensors_in_place(groups, mode):
    x = scan_inputs(41 + groups, groups=groups)
    t = _cuda(x)
    kw = dict(D=t["D"], z=t["z"], delta_bias=t["delta_bias"], delta_softplus=True)
    before = ss2d.stats()
    out, last = ss2d.selective_scan(t["u"], t["delta"], t["A"], t["B"], t["C"], return_last_state=True, **kw)
    after = ss2d.stats()
    assert out.is_cuda and out.device == t["u"].device and last.is_cuda
    assert after["copies_in"] == before["copies_in"] and after["segments"] == before["segments"], "nothing went through the host"
    want, want_last = reference.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], D=x["D"], z=x["z"],
                                               delta_bias=x["delta_bias"], delta_softplus=True)
    within(host(out, mode), want, 1e-4, "cuda scan groups=%d out (%s)" % (groups, mode))
    within(host(last, mode), want_last, 1e-4, "cuda scan groups=%d last_state (%s)" % (groups, mode))
    assert after["engine"]["cuda_ipc"] >= 1
    if mode == "ordered":
        assert after["engine"]["cuda_flags"] >= 1, "this connection's page of counters: %s" % after["engine"]


def test_outputs_are_ready_for_pytorch_at_once_and_views_work(mode):
    x = scan_inputs(44, b=4, d=64, l=512, n=16)
    t = _cuda(x)
    big = t["u"][1:3]                                   # a view at an offset inside PyTorch's allocation
    out = ss2d.selective_scan(big, t["delta"][1:3], t["A"], t["B"][1:3], t["C"][1:3])
    doubled = out * 2                                  # queued on PyTorch's stream right after the reply
    want, _ = reference.selective_scan(x["u"][1:3], x["delta"][1:3], x["A"], x["B"][1:3], x["C"][1:3])
    within(host(doubled, mode) / 2, want, 1e-4, "cuda scan on views (%s)" % mode)


def test_a_producer_before_and_a_consumer_after_the_call_are_ordered(mode):
    """The inputs' producer is queued behind a long spin on the current stream, the call comes right after, the
    input's memory is freed and reused at once, and the output's consumer is queued right after the call: the
    engine must read the produced values (not the NaN the input held before), the reuse must come after its read,
    and the consumer must see its output. In the ordered mode the call also returns while the stream is still busy
    (nothing waited on the host)."""
    x = scan_inputs(47, b=2, d=128, l=2048, n=16, groups=2)
    t = _cuda(x)
    want, _ = reference.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], D=x["D"], delta_softplus=True)
    u = torch.full_like(t["u"], float("nan"))
    # a first call on u's allocation: the connection's page is set up and the allocation exported and opened
    # now (opening IPC handles may wait for a busy GPU), so that the timed call below has nothing to set up
    ss2d.selective_scan(u, t["delta"], t["A"], t["B"], t["C"], D=t["D"], delta_softplus=True)
    settle("set-up")
    u.fill_(float("nan"))
    torch.cuda._sleep(BUSY_CYCLES)                     # the current stream is busy for a while
    u.copy_(t["u"])                                     # the producer, behind it
    out = ss2d.selective_scan(u, t["delta"], t["A"], t["B"], t["C"], D=t["D"], delta_softplus=True)
    busy = not torch.cuda.current_stream().query()
    del u                                               # freed: the caching allocator hands its block out again
    reuse = torch.empty_like(t["u"]).fill_(float("nan"))
    consumed = out * 2 + 1                              # the consumer
    got = (host(consumed, "ordered producer/consumer (%s)" % mode) - 1) / 2
    within(got, want, 1e-4, "scan between a producer and a consumer on the current stream (%s)" % mode)
    if mode == "ordered":
        assert busy, "a stream-ordered call returned only after the current stream finished: something waited on the host"
    else:
        assert not busy, "a synchronous call returned before the current stream finished"
    del reuse


def test_many_calls_in_a_row_without_synchronising(mode):
    """A chain of 40 calls, each on the previous result through PyTorch ops, never synchronised in between; and 30
    scans of inputs made right before each, their outputs kept: every value equals the float64 chain's."""
    r = np.random.default_rng(48)
    x0 = r.standard_normal((2, 6, 5, 7)).astype(np.float32)
    xt = torch.from_numpy(x0).cuda()
    want = x0.astype(np.float64)
    for k in range(40):
        ys = ss2d.cross_scan(xt)
        xt = ss2d.cross_merge(ys * 0.5, 5, 7) * 0.5 + 0.01 * k
        want = reference.cross_merge(reference.cross_scan(want) * 0.5, 5, 7) * 0.5 + 0.01 * k
    # 40 steps of float32 rounding, at most 4 roundings each (160 x 2^-24 ~ 1e-5) and the shift: 2e-5
    within(host(xt, "chain"), want, 2e-5, "40 chained cross_scan/cross_merge calls (%s)" % mode)

    x = scan_inputs(49, b=2, d=16, l=64, n=4)
    t = _cuda(x)
    outs = []
    for k in range(30):
        u = t["u"] * (k + 1)                           # produced on the current stream right before the call
        outs.append(ss2d.selective_scan(u, t["delta"], t["A"], t["B"], t["C"], D=t["D"], delta_softplus=True))
    settle("30 scans in a row")
    for k, out in enumerate(outs):
        want, _ = reference.selective_scan(x["u"] * (k + 1), x["delta"], x["A"], x["B"], x["C"], D=x["D"], delta_softplus=True)
        within(out.cpu().numpy(), want, 1e-4, "scan %d of 30 in a row (%s)" % (k, mode))


def test_several_threads_on_their_own_or_the_default_stream(mode):
    """Six threads, three on streams of their own and three on the default stream, 15 calls each with a producer
    and a consumer around every call: each result equals the float64 one."""
    x = scan_inputs(50, b=2, d=32, l=256, n=8)
    want, _ = reference.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], D=x["D"], delta_softplus=True)
    t = _cuda(x)
    settle("set-up")
    failures, results = [], {}

    def work(i):
        try:
            stream = torch.cuda.Stream() if i % 2 else torch.cuda.current_stream()
            with torch.cuda.stream(stream):
                got = []
                for k in range(15):
                    u = t["u"] * (k + 2) - t["u"] * (k + 1)        # equals u, made on this thread's stream
                    out = ss2d.selective_scan(u, t["delta"], t["A"], t["B"], t["C"], D=t["D"], delta_softplus=True)
                    got.append(out * 3)
                deadline = time.monotonic() + SETTLE_S
                while not stream.query():
                    if time.monotonic() > deadline:
                        raise AssertionError("thread %d: its stream did not finish within %d s" % (i, SETTLE_S))
                    time.sleep(0.001)
                results[i] = [g.cpu().numpy() / 3 for g in got]
        except BaseException as e:                                  # reported below, by thread
            failures.append("thread %d: %r" % (i, e))

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(SETTLE_S * 2)
        assert not th.is_alive(), "a thread did not finish within %d s" % (SETTLE_S * 2)
    assert not failures, failures
    for i, got in results.items():
        for k, g in enumerate(got):
            within(g, want, 1e-4, "thread %d call %d (%s)" % (i, k, mode))
    assert len(results) == 6


def test_cross_ops_and_an_ss2d_block_on_cuda(mode):
    _, c = golden(REPO / "conformance" / "golden" / "ss2d_d12_n4_r2_bias_3x7.arrow")
    block = ss2d.SS2D.from_state_dict({k: v for k, v in c.items() if k not in ("x", "out")})
    y = block(torch.from_numpy(c["x"].copy()).cuda())
    assert y.is_cuda
    within(host(y, "block"), c["out"], 2e-4, "ss2d block on cuda tensors (%s)" % mode)
    xs = torch.randn(2, 3, 5, 7, device="cuda")
    ys = ss2d.cross_scan(xs)
    within(host(ys, "cross_scan"), reference.cross_scan(xs.cpu().numpy()), 0.0, "cross_scan on cuda (%s)" % mode)
    within(host(ss2d.cross_merge(ys, 5, 7), "cross_merge"), reference.cross_merge(ys.cpu().numpy(), 5, 7), 1e-6,
           "cross_merge on cuda (%s)" % mode)


def test_a_block_from_a_state_dict_of_cuda_tensors_uses_them_in_place(mode):
    """The weights of a CUDA state dict are mapped by the engine (no copy into shared memory at load), and a weight
    changed in place on the device right before a call (queued on the current stream) is what that call reads."""
    _, c = golden(REPO / "conformance" / "golden" / "ss2d_d12_n4_r2_bias_3x7.arrow")
    sd = {k: torch.from_numpy(v.copy()).cuda() for k, v in c.items() if k not in ("x", "out")}
    before = ss2d.stats()
    block = ss2d.SS2D.from_state_dict(sd)
    assert ss2d.stats()["copies_in"] == before["copies_in"], "CUDA weights are not copied into shared memory"
    x = torch.from_numpy(c["x"].copy()).cuda()
    within(host(block(x), "cuda weights"), c["out"], 2e-4, "ss2d block with CUDA weights (%s)" % mode)
    torch.cuda._sleep(BUSY_CYCLES)
    sd["out_proj.weight"].mul_(2)                      # behind the spin, right before the call
    y = block(x)
    within(host(y, "doubled weight"), 2 * c["out"], 2e-4, "the block after out_proj.weight doubled in place (%s)" % mode)
    block.close()


def test_an_argument_error_on_cuda_tensors_is_raised_and_the_next_call_works(mode):
    x = _cuda(scan_inputs(45))
    with pytest.raises(ValueError, match="^delta: expected shape"):
        ss2d.selective_scan(x["u"], x["delta"][:, :, :-1].contiguous(), x["A"], x["B"], x["C"])
    out = ss2d.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"])
    want, _ = reference.selective_scan(*(x[k].cpu().numpy() for k in ("u", "delta", "A", "B", "C")))
    within(host(out, "after an error"), want, 1e-4, "the call after an argument error (%s)" % mode)


def test_a_non_contiguous_cuda_tensor_is_refused_by_name():
    x = _cuda(scan_inputs(45))
    with pytest.raises(ValueError, match="^u: expected a contiguous CUDA tensor"):
        ss2d.selective_scan(x["u"].transpose(1, 2), x["delta"], x["A"], x["B"], x["C"])


def test_host_tensors_run_on_the_cuda_backend():
    x = {k: ss2d.shared(v) for k, v in scan_inputs(46, groups=2).items()}
    kw = dict(D=x["D"], z=x["z"], delta_bias=x["delta_bias"], delta_softplus=True)
    gpu = ss2d.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], backend="cuda", **kw)
    ref = ss2d.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], backend="reference", **kw)
    within(gpu, ref, 2e-4, "cuda (host tensors) vs reference backend")


def _client(role, mode, timeout, deadline=60):
    """Runs ``_cuda_client.py ROLE DEADLINE`` in a fresh process (the engine of $SS2D_SOCKET, in ``mode``) within
    ``timeout`` s; the client's own calls and waits give up after ``deadline`` s."""
    env = dict(os.environ)
    env.pop("SS2D_CUDA_ORDERED", None)
    env["SS2D_CUDA_SYNC"] = "0" if mode == "ordered" else "1"
    try:
        return subprocess.run([sys.executable, str(HERE / "_cuda_client.py"), role, str(deadline)], capture_output=True,
                              text=True, timeout=timeout, cwd=str(HERE), env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail("the %s client (%s) did not finish within %d s: %s %s" % (role, mode, timeout, e.stdout, e.stderr))


def _engine_settles(base, what):
    deadline = time.monotonic() + SETTLE_S
    while True:
        now = ss2d.stats()["engine"]
        if all(now[k] == base[k] for k in ("sessions", "cuda_ipc", "cuda_flags", "views")):
            return now
        assert time.monotonic() < deadline, "%s: the engine still holds it after %d s: %s vs %s" % (what, SETTLE_S, now, base)
        time.sleep(0.05)


def test_a_client_that_exits_leaves_no_page_or_mapping_behind(mode):
    base = ss2d.stats()["engine"]
    r = _client("calls", mode, 120)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr
    _engine_settles(base, "a client that made %s calls and exited" % mode)


@pytest.fixture
def private_engine(monkeypatch):
    """An engine of this test's own (a private socket folder), started here and ended at teardown, killed if it does
    not exit: whatever a killed client does to it, the suite's shared engine never sees. Yields its log's path."""
    folder = tempfile.mkdtemp(prefix="ss2d-pytest-kill-")          # short: a socket path has ~100 bytes
    monkeypatch.setenv("SS2D_SOCKET", os.path.join(folder, "engine.sock"))
    monkeypatch.setenv("SS2D_TIMEOUT", "20")
    monkeypatch.setattr(_engine, "_engine", None)                 # this process's link to it, restored after
    eng = _engine.engine()
    try:
        ss2d.ping()                                                # starts it: eng.process
        yield os.path.join(folder, "engine.log")
    finally:
        eng._forget()
        proc = eng.process
        os.environ["SS2D_TIMEOUT"] = "5"                           # a wedged engine may not answer shutdown
        ss2d.shutdown()
        if proc is not None:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("kill_mode", ["ordered", "sync"])
def test_a_client_killed_with_gpu_work_pending_leaves_the_engine_serving(kill_mode, private_engine):
    """The client queues its call behind a long spin and more work after it, and is killed before the spin ends:
    the engine must still serve others (another process's calls complete and are right) and close the dead client's
    session. In the stream-ordered mode (the default) the engine's stream is then waiting for a ticket the dead
    client's stream will never write: closing the connection writes it from the host (with interprocess events, the
    design before, this wedged the engine for every client; docs/gpu-runs/2026-12-06-h100b/python.txt). Against an
    engine of its own, so that a regression fails this test only."""
    base = ss2d.stats()["engine"]
    r = _client("killed", kill_mode, 60, deadline=20)
    assert "called" in r.stdout and r.returncode == -9, "the victim: rc %s: %s %s" % (r.returncode, r.stdout, r.stderr)
    r = _client("calls", kill_mode, 60, deadline=15)
    assert r.returncode == 0 and "ok" in r.stdout, \
        "%s: after a client was killed with GPU work pending, another client's call failed: %s %s | engine log: %s" % (
            kill_mode, r.stdout, r.stderr, _engine._tail(private_engine, 10))
    _engine_settles(base, "a client killed with GPU work pending (%s)" % kill_mode)
    # and this process, another client, is served too
    x = scan_inputs(91)
    t = _cuda(x)
    out = ss2d.selective_scan(t["u"], t["delta"], t["A"], t["B"], t["C"])
    want, _ = reference.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"])
    within(host(out, "after the kill"), want, 1e-4, "a call after a client was killed (%s)" % kill_mode)


@pytest.fixture
def short_order_deadline(monkeypatch):
    """The engine that private_engine starts next gives up waiting for a client's ticket after 1 s."""
    monkeypatch.setenv("SS2D_ORDER_DEADLINE", "1")
    monkeypatch.setattr(_refs, "CUDA_ORDERED", True)


def test_the_order_deadline_releases_a_call_that_the_stream_reaches_too_late(short_order_deadline, private_engine):
    """A call queued behind ~2 s of spinning on the current stream, against an engine whose deadline is 1 s: the
    engine stops waiting for the ticket by itself (that call's output is undefined, and not checked), the next call
    on that connection raises StreamOrderError, and the call after it (a new connection) is right."""
    x = scan_inputs(92, b=2, d=32, l=256, n=8)
    t = _cuda(x)
    run = lambda: ss2d.selective_scan(t["u"], t["delta"], t["A"], t["B"], t["C"])  # noqa: E731
    run()
    settle("set-up")
    torch.cuda._sleep(BUSY_CYCLES * 10)                # ~2 s on the current stream, more than the deadline
    run()
    time.sleep(1.8)                                     # the engine's deadline passes (checked every 1/8 s)
    with pytest.raises(ss2d.StreamOrderError, match="^stream order broken: the engine's CUDA stream waited more than 1.0 s"):
        run()
    settle("the late call")
    out = run()
    want, _ = reference.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"])
    within(host(out, "after the deadline"), want, 1e-4, "the call after a broken order")
    assert "stream order broken" in _engine._tail(private_engine, 20), "the engine logs it"


def test_the_raw_stream_handle_is_the_current_streams():
    """_order.current_stream (the handle an ordered call writes its ticket on) is what torch.cuda.current_stream gives,
    on the default stream and inside a side stream's context."""
    from ss2d import _order
    i = torch.cuda.current_device()
    assert _order.current_stream(i) == torch.cuda.current_stream(i).cuda_stream
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        assert _order.current_stream(i) == side.cuda_stream != torch.cuda.default_stream(i).cuda_stream
    assert _order.current_stream(i) == torch.cuda.current_stream(i).cuda_stream
