"""What the GPU comparison scripts share: timing a call with CUDA events (wall clock on the CPU dry run) and
recording the engine's own time of each request, and the scan shapes S1..S5 with their inputs."""
import statistics
import time

# (batch, dim, groups, seqlen, dstate) of the scans the issues measure
SHAPES = {"S1": (32, 768, 4, 3136, 1), "S2": (32, 768, 4, 3136, 16), "S3": (32, 1536, 4, 784, 1),
          "S4": (32, 3072, 4, 196, 1), "S5": (8, 2048, 1, 4096, 16)}


def scan_inputs(torch, name, g):
    """(u, delta, A, B, C, D, delta_bias) of shape ``name`` as CUDA tensors from generator ``g``: grouped B and C,
    A negative, delta around 0 (softplus on), the values every GPU comparison script times."""
    bt, d, gr, l, n = SHAPES[name]
    u = torch.randn(bt, d, l, device="cuda", generator=g)
    delta = 0.5 * torch.randn(bt, d, l, device="cuda", generator=g)
    A = -torch.rand(d, n, device="cuda", generator=g) * 1.9 - 0.1
    B = torch.randn(bt, gr, n, l, device="cuda", generator=g)
    C = torch.randn(bt, gr, n, l, device="cuda", generator=g)
    D = torch.randn(d, device="cuda", generator=g)
    bias = 0.1 * torch.randn(d, device="cuda", generator=g)
    return u, delta, A, B, C, D, bias


def events(torch, fn, reps, device="cuda"):
    """Median ms of ``fn`` over ``reps`` isolated calls after 3 untimed ones: CUDA events around each call, each
    waited for before the next (the GPU idle when a call starts: its latency), or the wall clock when ``device`` is
    "cpu"."""
    for _ in range(3):
        fn()
    if device == "cpu":                  # the dry run: wall-clock time
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t0) * 1000)
        return statistics.median(ts)
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        settle(torch, b, "an isolated call")
        ts.append(a.elapsed_time(b))
    return statistics.median(ts)


def settle(torch, event, what, timeout=120):
    """Polls until ``event`` completed (a benchmark must fail, not hang, if a wait is never satisfied)."""
    deadline = time.monotonic() + timeout
    while not event.query():
        if time.monotonic() > deadline:
            raise RuntimeError("%s: the GPU did not finish within %d s" % (what, timeout))
        time.sleep(0.0002)


def queued(torch, fn, reps, what="queued calls"):
    """Calls in a row as a model makes them, never waited for in between: CUDA events recorded around each call on
    the current stream, one wait at the end. Returns (median ms between a call's events on the GPU, median us of
    host time per call around the Python call). With the host ahead of the GPU, the first is what each call adds
    to the GPU's timeline; the host time is what the caller's thread spends per call."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    evs = [torch.cuda.Event(enable_timing=True) for _ in range(reps + 1)]
    host = []
    for i in range(reps):
        evs[i].record()
        t0 = time.perf_counter()
        fn()
        host.append((time.perf_counter() - t0) * 1e6)
    evs[reps].record()
    settle(torch, evs[reps], what)
    return statistics.median(evs[i].elapsed_time(evs[i + 1]) for i in range(reps)), statistics.median(host)


def warm_engine(torch, calls=2000, device="cuda"):
    """Runs ``calls`` small selective scans (and cross scans) on ``device`` tensors so that the engine's JIT has compiled
    its request path before anything is timed (the Java host path of a CUDA op takes 100-250 us interpreted, a few us
    compiled): the steady state a model's thousands of calls reach. Returns the seconds it took."""
    import ss2d
    t0 = time.perf_counter()
    g = torch.Generator(device=device).manual_seed(7)
    u = torch.randn(2, 16, 64, device=device, generator=g)
    A = -torch.rand(16, 4, device=device, generator=g) - 0.1
    B = torch.randn(2, 1, 4, 64, device=device, generator=g)
    x = torch.randn(1, 4, 8, 8, device=device, generator=g)
    for _ in range(calls):
        ss2d.selective_scan(u, u, A, B, B, delta_softplus=True)
        ss2d.cross_scan(x)
    if device == "cuda":
        settle(torch, _recorded(torch), "the engine's warm-up")
    return time.perf_counter() - t0


def _recorded(torch):
    e = torch.cuda.Event()
    e.record()
    return e


def record_engine_us(eng):
    """Wraps ``eng.call`` and ``eng.call_cuda`` (stream-ordered calls) so that every reply's ``engine_us`` is
    appended to the returned list."""
    engine_us = []
    plain_call, cuda_call = eng.call, eng.call_cuda

    def timed_call(req, start=True):
        r = plain_call(req, start)
        engine_us.append(r.get("engine_us", 0))
        return r

    def timed_cuda_call(req, device):
        r = cuda_call(req, device)
        engine_us.append(r.get("engine_us", 0))
        return r

    eng.call = timed_call
    eng.call_cuda = timed_cuda_call
    return engine_us
