"""Several threads and several processes calling at once: each gets its own answer, bit-identical to a serial
run; a client killed mid-call leaves the engine healthy and holding nothing of it."""

import concurrent.futures as cf
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import numpy as np

import ss2d
from conftest import scan_inputs
from ss2d import _engine


def _call(seed):
    x = scan_inputs(seed, d=4 + seed % 7, l=16 + 3 * seed, groups=1)
    return ss2d.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], D=x["D"], z=x["z"], delta_softplus=True)


def test_threads_get_the_same_bits_as_serial_calls():
    seeds = list(range(24))
    serial = [_call(s) for s in seeds]
    with cf.ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(_call, seeds))
    for s, a, b in zip(seeds, serial, parallel):
        assert np.array_equal(a, b), "seed %d: a threaded call differs from the serial one" % s


def test_processes_share_one_engine():
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(3, mp_context=ctx) as pool:
        results = list(pool.map(_workers_scan_error, range(4)))
    assert all(err <= 1e-4 for err, _ in results), results
    assert {pid for _, pid in results} == {_engine.engine().server_pid}, "one engine per user, found again"


def _workers_scan_error(seed):
    import _workers
    return _workers.scan_error(seed)


def test_a_client_killed_mid_call_leaves_nothing_behind():
    ss2d.ping()
    base = ss2d.stats()["engine"]
    code = ("import ss2d, conftest; x = conftest.scan_inputs(1, b=2, d=64, l=8192, n=16); print('go', flush=True); "
            "ss2d.selective_scan(x['u'], x['delta'], x['A'], x['B'], x['C'], backend='reference')")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=os.path.dirname(__file__))
    assert child.stdout.readline().strip() == b"go"
    deadline = time.monotonic() + 20
    while ss2d.stats()["engine"]["sessions"] <= base["sessions"]:
        assert time.monotonic() < deadline, "the child never reached the engine"
        time.sleep(0.01)
    time.sleep(0.2)                                 # inside its (long) reference-backend call
    child.send_signal(signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 60
    while True:
        now = ss2d.stats()["engine"]
        if (now["sessions"] == base["sessions"] and now["mapped_bytes"] == base["mapped_bytes"]
                and now["views"] == base["views"]):
            break
        assert time.monotonic() < deadline, "the killed client's session was never closed: %s vs %s" % (now, base)
        time.sleep(0.05)
    assert _call(3).shape[0] == 2, "the engine still serves"


def test_a_forked_child_gets_its_own_session_and_memory():
    want = _call(5)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                     # the child: the parent's connections and pool are not its own
        ok = 0
        try:
            ok = int(np.array_equal(_call(5), want) and ss2d.stats()["segments"] == 1)
        finally:
            os.write(w, bytes([ok]))
            os._exit(0)
    os.close(w)
    got = os.read(r, 1)
    os.waitpid(pid, 0)
    assert got == b"\x01", "the forked child's call failed or disagreed"
    assert np.array_equal(_call(5), want), "the parent still works after the fork"
