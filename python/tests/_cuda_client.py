"""Another process for tests/test_cuda.py (GPU host): ``calls`` makes calls and checks them (prints "ok"),
``killed`` queues a call behind a long spin on its stream, then more work, and kills itself with SIGKILL before that
work ends. The mode is the environment's (stream-ordered unless SS2D_CUDA_SYNC=1). Every call and wait here gives up after DEADLINE
seconds (``_cuda_client.py ROLE [DEADLINE]``, default 60): the test runs this with a timeout too."""

import os
import signal
import sys
import time

import numpy as np
import torch

import reference
import ss2d
from conftest import scan_inputs  # noqa: F401  (sets up the test's engine socket and PYTHONPATH)


def settle(deadline_s):
    s = torch.cuda.current_stream()
    deadline = time.monotonic() + deadline_s
    while not s.query():
        if time.monotonic() > deadline:
            print("stuck: the current stream did not finish within %d s" % deadline_s, flush=True)
            os._exit(3)
        time.sleep(0.001)


def main(role, deadline):
    ss2d.set_timeout(deadline)
    x = scan_inputs(90, b=2, d=64, l=1024, n=16)
    t = {k: torch.from_numpy(v).cuda() for k, v in x.items()}
    want, _ = reference.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], D=x["D"], delta_softplus=True)
    run = lambda u: ss2d.selective_scan(u, t["delta"], t["A"], t["B"], t["C"], D=t["D"], delta_softplus=True)  # noqa: E731
    if role == "calls":
        outs = [run(t["u"] * 1.0) for _ in range(5)]
        settle(deadline)
        for o in outs:
            got = o.cpu().numpy()
            err = np.abs(got - want).max() / np.abs(want).max()
            if not np.isfinite(got).all() or err > 1e-4:
                print("wrong: max rel err %.3g" % err, flush=True)
                sys.exit(1)
        print("ok", flush=True)
    elif role == "killed":
        u = t["u"] * 1.0
        run(u)                                       # sets up this connection's page and u's IPC mapping
        settle(deadline)
        torch.cuda._sleep(int(4e9))                  # seconds of spinning on the current stream
        u.mul_(1.0)                                  # the producer, behind the spin
        run(u)                                       # ordered: the engine's stream now waits for work pending here
        torch.cuda._sleep(int(4e9))                  # and more work queued after the call, pending when killed
        u.mul_(1.0)
        print("called", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 60.0)
