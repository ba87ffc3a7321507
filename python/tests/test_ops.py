"""The ops against a float64 NumPy reference (fresh random inputs), against the engine's own float64 reference
backend, and against PyTorch's golden vectors in conformance/golden."""

import numpy as np
import pytest

import reference
import ss2d
from conftest import REPO, golden, scan_inputs, within

SCAN_BUDGET = 1e-4


@pytest.mark.parametrize("bc,groups", [("grouped", 1), ("grouped", 2), ("variable", 1), ("constant", 1)])
@pytest.mark.parametrize("options", ["plain", "all"])
def test_selective_scan_matches_float64(bc, groups, options):
    x = scan_inputs(11 + groups, groups=groups, bc=bc)
    kw = dict(delta_softplus=True, D=x["D"], z=x["z"], delta_bias=x["delta_bias"]) if options == "all" else {}
    out, last = ss2d.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], return_last_state=True, **kw)
    want, want_last = reference.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], **kw)
    case = "selective_scan %s groups=%d %s" % (bc, groups, options)
    within(out, want, SCAN_BUDGET, case + " out")
    within(last, want_last, SCAN_BUDGET, case + " last_state")


def test_selective_scan_returns_out_only_unless_asked():
    x = scan_inputs(3)
    out = ss2d.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"])
    assert isinstance(out, np.ndarray) and out.shape == x["u"].shape


def test_java_reference_backend_agrees():
    x = scan_inputs(5, d=6, l=17, n=3, groups=3)
    kw = dict(D=x["D"], z=x["z"], delta_bias=x["delta_bias"], delta_softplus=True)
    cpu = ss2d.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], backend="cpu", **kw)
    ref = ss2d.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], backend="reference", **kw)
    want, _ = reference.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], **kw)
    within(ref, want, 1e-6, "reference backend vs numpy float64")      # both float64 inside, rounded once
    within(cpu, ref, 2 * SCAN_BUDGET, "cpu vs reference backend")


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 2, 6, 1), (1, 1, 1, 7)])
def test_cross_scan_and_merge(shape):
    x = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    ys = ss2d.cross_scan(x)
    within(ys, reference.cross_scan(x), 0.0, "cross_scan %s" % (shape,))   # a permutation: bit-exact
    y = ss2d.cross_merge(ys, shape[2], shape[3])
    within(y, reference.cross_merge(ys, shape[2], shape[3]), 1e-6, "cross_merge %s" % (shape,))
    y5 = ss2d.cross_merge(ys.reshape(shape[0], 4, shape[1], shape[2], shape[3]))
    assert np.array_equal(y, y5)


SCAN_GOLDEN = ["scan_grouped2_all_options", "scan_const_bc_d_bias_softplus", "scan_var_bc_z_nosoftplus",
               "scan_long_grouped4_n1", "scan_seqlen1", "scan_exp_underflow"]


@pytest.mark.parametrize("name", SCAN_GOLDEN)
def test_scan_golden_vectors_from_pytorch(name):
    opts, c = golden(REPO / "conformance" / "golden" / (name + ".arrow"))
    args = {k: c.get(k) for k in ("D", "z", "delta_bias")}
    res = ss2d.selective_scan(c["u"], c["delta"], c["A"], c["B"], c["C"], delta_softplus=opts.get("delta_softplus", False),
                              return_last_state=True, **args)
    within(res[0], c["out"], SCAN_BUDGET, name + " out")
    if "last_state" in c:
        within(res[1], c["last_state"], SCAN_BUDGET, name + " last_state")


def test_backends_lists_cpu_and_reference():
    names = {b["name"]: b for b in ss2d.backends()}
    assert names["cpu"]["available"] and names["reference"]["available"]
    assert sum(b["picked_by_auto"] for b in names.values()) == 1
    if not names.get("cuda", {}).get("available", True):
        assert names["cuda"]["reason"]
