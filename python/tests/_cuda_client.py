"""Another process for tests/test_cuda.py (GPU host): ``calls`` makes stream-ordered calls and checks them (prints
"ok"), ``killed`` queues a call behind a long spin on its stream and kills itself with SIGKILL before the spin ends.
Every wait here has a deadline: the test runs this with a timeout too."""

import os
import signal
import sys
import time

import numpy as np
import torch

import reference
import ss2d
from conftest import scan_inputs  # noqa: F401  (sets up the test's engine socket and PYTHONPATH)


def settle(deadline_s=60):
    s = torch.cuda.current_stream()
    deadline = time.monotonic() + deadline_s
    while not s.query():
        if time.monotonic() > deadline:
            print("stuck: the current stream did not finish within %d s" % deadline_s, flush=True)
            os._exit(3)
        time.sleep(0.001)


def main(role):
    ss2d.set_timeout(60)
    x = scan_inputs(90, b=2, d=64, l=1024, n=16)
    t = {k: torch.from_numpy(v).cuda() for k, v in x.items()}
    want, _ = reference.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], D=x["D"], delta_softplus=True)
    run = lambda u: ss2d.selective_scan(u, t["delta"], t["A"], t["B"], t["C"], D=t["D"], delta_softplus=True)  # noqa: E731
    if role == "calls":
        outs = [run(t["u"] * 1.0) for _ in range(5)]
        settle()
        for o in outs:
            got = o.cpu().numpy()
            err = np.abs(got - want).max() / np.abs(want).max()
            if not np.isfinite(got).all() or err > 1e-4:
                print("wrong: max rel err %.3g" % err, flush=True)
                sys.exit(1)
        print("ok", flush=True)
    elif role == "killed":
        u = t["u"] * 1.0
        run(u)                                       # sets up this connection's events and u's IPC mapping
        settle()
        torch.cuda._sleep(int(4e9))                  # seconds of spinning on the current stream
        u.mul_(1.0)                                  # the producer, behind the spin
        run(u)                                       # the engine's stream now waits for work still pending here
        print("called", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv[1])
