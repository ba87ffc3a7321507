"""What the GPU comparison scripts share: timing a call with CUDA events (wall clock on the CPU dry run) and
recording the engine's own time of each request."""
import statistics
import time


def events(torch, fn, reps, device="cuda"):
    """Median ms of ``fn`` over ``reps`` calls after 3 untimed ones: CUDA events around each call, or the wall
    clock when ``device`` is "cpu"."""
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
        b.synchronize()
        ts.append(a.elapsed_time(b))
    return statistics.median(ts)


def record_engine_us(eng):
    """Wraps ``eng.call`` so that every reply's ``engine_us`` is appended to the returned list."""
    engine_us = []
    plain_call = eng.call

    def timed_call(req, start=True):
        r = plain_call(req, start)
        engine_us.append(r.get("engine_us", 0))
        return r

    eng.call = timed_call
    return engine_us
