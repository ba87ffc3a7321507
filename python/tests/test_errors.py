"""Bad input is a ValueError carrying the engine's one-line message; a backend limit is LimitExceededError;
a dead or stuck engine is an EngineError, never a hung interpreter."""

import contextlib
import os
import signal
import tempfile
import time

import numpy as np
import pytest

import ss2d
from conftest import REPO, golden, scan_inputs
from ss2d import _engine


def test_mismatched_shape_names_the_argument():
    x = scan_inputs(31)
    with pytest.raises(ValueError) as e:
        ss2d.selective_scan(x["u"], x["delta"][:, :, :-1], x["A"], x["B"], x["C"])
    msg = str(e.value)
    assert "delta" in msg and "\n" not in msg and not isinstance(e.value, ss2d.LimitExceededError)


def test_unknown_backend_lists_the_valid_ones():
    x = scan_inputs(32)
    with pytest.raises(ValueError, match="nope.*cpu|cpu.*nope"):
        ss2d.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], backend="nope")


def test_integer_input_is_refused_by_name():
    x = scan_inputs(33)
    with pytest.raises(ValueError, match="^u: .*int64"):
        ss2d.selective_scan(np.ones((2, 8, 33), np.int64), x["delta"], x["A"], x["B"], x["C"])


def test_cross_merge_needs_the_grid():
    with pytest.raises(ValueError, match="H, W"):
        ss2d.cross_merge(np.ones((1, 4, 2, 6), np.float32))


def test_the_engine_stays_usable_after_errors():
    x = scan_inputs(34)
    for _ in range(3):
        with pytest.raises(ValueError):
            ss2d.selective_scan(x["u"], x["delta"], x["A"][:, :2], x["B"], x["C"])
    assert ss2d.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"]).shape == x["u"].shape


@contextlib.contextmanager
def _private_engine(java_options=None):
    """A second engine, for tests that limit or kill it; the session's engine is left alone."""
    saved_env, saved = dict(os.environ), _engine._engine
    os.environ["SS2D_SOCKET"] = os.path.join(tempfile.mkdtemp(prefix="ss2d-pytest-private-"), "engine.sock")
    if java_options:
        os.environ["JAVA_TOOL_OPTIONS"] = java_options
    _engine._engine = None
    try:
        yield
    finally:
        ss2d.shutdown()
        _engine._engine = saved
        os.environ.clear()
        os.environ.update(saved_env)


def test_limit_errors_and_a_killed_engine():
    _, c = golden(REPO / "conformance" / "golden" / "ss2d_d12_n4_r2_bias_3x7.arrow")
    sd = {k: v for k, v in c.items() if k not in ("x", "out")}
    big = np.random.default_rng(35).standard_normal((1, 12, 64, 64)).astype(np.float32)
    with _private_engine("-Dss2d.max-bytes=1m"):
        block = ss2d.SS2D.from_state_dict(sd)
        with pytest.raises(ss2d.LimitExceededError, match="bytes"):
            block(big)                                 # its working memory is over the 1 MiB budget
        assert block(c["x"]).shape == c["x"].shape    # a small one still runs
        os.kill(_engine.engine().server_pid, signal.SIGKILL)
        t0 = time.monotonic()
        with pytest.raises(ss2d.EngineError, match="went away"):
            block(c["x"])
        assert time.monotonic() - t0 < 5, "a dead engine is noticed at once"
        y = block(c["x"])                              # a new engine starts; the module loads itself again
        assert np.isfinite(y).all()


def test_a_call_over_the_timeout_raises_and_the_engine_carries_on(monkeypatch):
    eng = _engine.engine()
    # The float64 reference on 2 x 256 channels x 4096 steps x 16 states (32M state updates) takes well over
    # the 20 ms timeout even on a fast idle machine (the smaller 64-channel input once finished in time).
    x = scan_inputs(36, b=2, d=256, l=4096, n=16)
    monkeypatch.setenv("SS2D_TIMEOUT", "0.02")
    eng._forget()                                      # new connections take the short timeout
    try:
        with pytest.raises(ss2d.EngineTimeoutError):
            ss2d.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], backend="reference")
    finally:
        # pooled connections keep the timeout they were made with: never leave a short one to other tests
        monkeypatch.setenv("SS2D_TIMEOUT", "600")
        eng._forget()
    ss2d.ping()


def test_shutdown_starts_no_engine():
    with _private_engine():
        ss2d.shutdown()                                # nothing runs there: nothing is started to be stopped
        assert not os.path.exists(os.environ["SS2D_SOCKET"])
