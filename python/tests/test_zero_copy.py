"""No tensor byte is copied on the way in (for inputs in shared memory) or out, proven by addresses and by the
client's copy counter; lifetimes: outputs outlive their inputs, blocks are reused only once freed."""

import gc

import numpy as np
import pytest

import reference
import ss2d
from conftest import REPO, golden, scan_inputs, within
from ss2d import _refs, _shm


def _shared_scan_inputs(seed):
    x = scan_inputs(seed)
    return {k: ss2d.shared(v) for k, v in x.items()}


def test_shared_inputs_are_sent_by_reference_and_plain_arrays_copied_once():
    plain = scan_inputs(21)
    shared = {k: ss2d.shared(v) for k, v in plain.items()}
    assert all(ss2d.is_shared(v) for v in shared.values()) and not any(ss2d.is_shared(v) for v in plain.values())
    before = ss2d.stats()["copies_in"]
    a = ss2d.selective_scan(shared["u"], shared["delta"], shared["A"], shared["B"], shared["C"], D=shared["D"])
    assert ss2d.stats()["copies_in"] == before, "inputs in shared memory must not be copied"
    b = ss2d.selective_scan(plain["u"], plain["delta"], plain["A"], plain["B"], plain["C"], D=plain["D"])
    assert ss2d.stats()["copies_in"] == before + 6, "each plain numpy input is copied exactly once"
    assert np.array_equal(a, b)


def test_the_reference_sent_is_the_arrays_own_address():
    u = ss2d.empty(2, 3, 4)
    view = u[1]                                      # a contiguous view inside the block: still no copy
    keep = []
    r = _refs.ref(view, "u", keep)
    seg = next(s for s in _shm.pool().segments() if s.id == r["seg"])
    assert seg.addr + r["off"] == view.ctypes.data and r["shape"] == [3, 4]
    assert keep == [view], "no temporary block was made"


def test_outputs_are_shared_memory_views_not_copies():
    torch = pytest.importorskip("torch")
    x = _shared_scan_inputs(22)
    out = ss2d.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"])
    assert ss2d.is_shared(out) and isinstance(out.base, _shm.Block) and out.flags.owndata is False
    t = ss2d.selective_scan(*(torch.from_numpy(x[k]) for k in ("u", "delta", "A", "B", "C")))
    assert isinstance(t, torch.Tensor) and ss2d.is_shared(t)
    assert np.array_equal(t.numpy(), out)


def test_the_engine_reads_weights_in_place():
    # Weights in shared memory are viewed by the engine, never copied: scaling out_proj.weight in place (the
    # block's last, bias-free linear map) scales the output, with no reload.
    _, c = golden(REPO / "conformance" / "golden" / "ss2d_d8_n1_r1_5x6.arrow")
    sd = {k: ss2d.shared(v) for k, v in c.items() if k not in ("x", "out")}
    before = ss2d.stats()["copies_in"]
    block = ss2d.SS2D.from_state_dict(sd)
    x = ss2d.shared(c["x"])
    y1 = block(x).copy()
    assert ss2d.stats()["copies_in"] == before, "weights and input were already shared: nothing copied"
    sd["out_proj.weight"] *= 2.0
    block.weights_changed()
    y2 = block(x)
    assert np.array_equal(y2, 2.0 * y1), "the engine saw the weights change in the client's memory"


def test_output_outlives_its_inputs_and_is_never_reused_while_alive():
    x = scan_inputs(23)
    want, _ = reference.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"])
    shared = {k: ss2d.shared(v) for k, v in x.items()}
    out = ss2d.selective_scan(shared["u"], shared["delta"], shared["A"], shared["B"], shared["C"])
    del shared
    gc.collect()
    for seed in range(5):                            # other calls reuse freed blocks, never the live output
        y = scan_inputs(100 + seed)
        ss2d.selective_scan(y["u"], y["delta"], y["A"], y["B"], y["C"])
    within(out, want, 1e-4, "output kept after its inputs died")


def test_freed_blocks_are_reused():
    pool = _shm.pool()
    a = ss2d.empty(1000)
    addr = a.ctypes.data
    del a
    gc.collect()
    b = ss2d.empty(1000)
    assert b.ctypes.data == addr


@pytest.mark.parametrize("kind", ["tensor", "fixed_shape_tensor"])
def test_pyarrow_in_pyarrow_out(kind):
    pa = pytest.importorskip("pyarrow")
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 5)).astype(np.float32)
    if kind == "tensor":
        arrow_x = pa.Tensor.from_numpy(ss2d.shared(x))
    else:
        arrow_x = pa.FixedShapeTensorArray.from_numpy_ndarray(ss2d.shared(x))
    before = ss2d.stats()["copies_in"]
    ys = ss2d.cross_scan(arrow_x)
    assert ss2d.stats()["copies_in"] == before, "pyarrow views of shared memory go by reference"
    assert type(ys) is type(arrow_x)
    got = ys.to_numpy() if kind == "tensor" else ys.to_numpy_ndarray()
    assert ss2d.is_shared(got), "the pyarrow output views the engine's output block"
    within(got, reference.cross_scan(x), 0.0, "cross_scan through pyarrow " + kind)


def test_views_of_a_shared_array_are_sent_for_what_they_are():
    x = ss2d.shared(np.random.default_rng(4).standard_normal((2, 3, 4, 5)).astype(np.float32))
    for view in (x[::-1], x[1:], x[:, :, ::-1], x[..., 1:4]):       # same shape or not, reversed or strided
        want = reference.cross_scan(np.ascontiguousarray(view))
        within(ss2d.cross_scan(view), want, 0.0, "cross_scan of a view with strides %s" % (view.strides,))


def test_a_freed_output_block_reused_with_another_shape_is_viewed_afresh():
    # The engine keeps a view per (segment, offset, size, name) between calls; the pool hands a freed block to the
    # next output of any shape that fits it, so the engine must notice the new shape and view the block again.
    x = {k: ss2d.shared(v) for k, v in scan_inputs(31, l=33).items()}
    out = ss2d.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], D=x["D"])
    y = scan_inputs(32, l=40)                       # 2*8*40 floats: the same power-of-two block as 2*8*33
    sy = {k: ss2d.shared(v) for k, v in y.items()}
    addr = out.ctypes.data
    del out
    gc.collect()
    out = ss2d.selective_scan(sy["u"], sy["delta"], sy["A"], sy["B"], sy["C"], D=sy["D"])
    assert out.ctypes.data == addr, "the freed block was reused (else this test proves nothing)"
    want, _ = reference.selective_scan(y["u"], y["delta"], y["A"], y["B"], y["C"], D=y["D"])
    within(out, want, 1e-4, "scan into a reused block of another shape")


def test_the_engines_cached_views_are_bounded_and_go_with_the_connection():
    # Every distinct block a connection sends gets a cached view in the engine, at most views_per_connection of
    # them per connection (least recently used dropped first); they are freed when the connection closes.
    first = ss2d.stats()["engine"]
    keep = []
    r = np.random.default_rng(33)
    for i in range(first["views_per_connection"] + 40):   # every input and output a block of its own
        x = ss2d.shared(r.standard_normal((1, 1, 2, 3)).astype(np.float32))
        keep.append((x, ss2d.cross_scan(x)))
    now = ss2d.stats()["engine"]
    assert now["views"] <= now["views_per_connection"] * now["connections"], now
    for x, ys in keep[:3] + keep[-3:]:                    # views dropped and views kept both still right
        within(ys, reference.cross_scan(x), 0.0, "cross_scan with many live blocks")
    within(ss2d.cross_scan(keep[0][0]), reference.cross_scan(keep[0][0]), 0.0, "a block whose view was dropped")
