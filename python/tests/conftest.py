"""Test set-up: an engine of our own (a private socket folder, so a user's engine is never touched), outputs
poisoned with NaN before each op, and helpers shared by the tests."""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
REPO = HERE.parent.parent
sys.path[:0] = [str(SRC), str(HERE)]
os.environ["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HERE)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))
os.environ["SS2D_POISON"] = "1"           # every output starts as NaN: an element the engine skips fails
_dir = None
if not os.environ.get("SS2D_SOCKET"):
    _dir = tempfile.mkdtemp(prefix="ss2d-pytest-")   # mkdtemp makes it 0700
    os.environ["SS2D_SOCKET"] = os.path.join(_dir, "engine.sock")

import ss2d  # noqa: E402
from ss2d import _engine  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def engine():
    try:
        _engine.engine_command()
    except ss2d.EngineError as e:
        pytest.skip("no engine to test against: %s" % e)
    try:
        ss2d.ping()
    except ss2d.EngineError as e:
        pytest.fail("the engine did not start: %s" % e)
    yield
    ss2d.shutdown()
    if _dir:
        import shutil
        shutil.rmtree(_dir, ignore_errors=True)


def rng(seed):
    return np.random.default_rng(seed)


def within(actual, expected, budget, what):
    """The project's policy: every element finite and max|a - e| <= budget * max|e|."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, "%s: shape %s, expected %s" % (what, a.shape, e.shape)
    assert np.isfinite(a).all(), "%s: %d non-finite elements" % (what, (~np.isfinite(a)).sum())
    err = np.abs(a - e).max() if a.size else 0.0
    scale = np.abs(e).max() if e.size else 0.0
    assert err <= budget * scale, "%s: max|diff| %.3g > %.0e * max|expected| %.3g" % (what, err, budget, scale)
    return err / scale if scale else 0.0


def scan_inputs(seed, b=2, d=8, l=33, n=4, groups=1, bc="grouped"):
    r = rng(seed)
    u = r.standard_normal((b, d, l)).astype(np.float32)
    delta = (0.5 * r.standard_normal((b, d, l))).astype(np.float32)
    A = -r.uniform(0.1, 2.0, (d, n)).astype(np.float32)
    shape = {"grouped": (b, groups, n, l), "variable": (b, n, l), "constant": (d, n)}[bc]
    B = r.standard_normal(shape).astype(np.float32)
    C = r.standard_normal(shape).astype(np.float32)
    D = r.standard_normal(d).astype(np.float32)
    z = r.standard_normal((b, d, l)).astype(np.float32)
    bias = (0.1 * r.standard_normal(d)).astype(np.float32)
    return dict(u=u, delta=delta, A=A, B=B, C=C, D=D, z=z, delta_bias=bias)


def golden(path):
    """(metadata options, {column: numpy array}) of a golden case file."""
    import json
    pytest.importorskip("pyarrow", reason="the golden vectors are Arrow files")
    import pyarrow.ipc as ipc
    t = ipc.open_file(str(path)).read_all()
    md = t.schema.metadata or {}
    cols = {}
    for name in t.schema.names:
        col = t.column(name).combine_chunks()
        cols[name] = col.to_numpy_ndarray()[0]
    return json.loads(md.get(b"ss2d.options", b"{}")), cols
