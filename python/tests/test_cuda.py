"""CUDA tensors (GPU host only: skipped without torch.cuda). A torch.cuda tensor goes to the engine as the CUDA
IPC handle of its allocation and its offset there, after PyTorch's current stream is synchronised; the engine
maps the allocation once per session and runs on it in place, and its reply comes after its own stream has
finished, so the outputs (torch.cuda tensors the client allocated) are ready when the call returns."""

import numpy as np
import pytest

import reference
import ss2d
from conftest import REPO, golden, scan_inputs, within

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (torch.cuda.is_available() is False)")]


@pytest.fixture(scope="module", autouse=True)
def cuda_backend():
    names = {b["name"]: b for b in ss2d.backends()}
    if not names.get("cuda", {}).get("available"):
        pytest.fail("torch sees a GPU but the engine's CUDA backend is unavailable: %s" % names.get("cuda", {}).get("reason"))


def _cuda(x):
    return {k: torch.from_numpy(v).cuda() for k, v in x.items()}


@pytest.mark.parametrize("groups", [1, 2])
def test_scan_on_cuda_tensors_in_place(groups):
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
    within(out.cpu().numpy(), want, 1e-4, "cuda scan groups=%d out" % groups)
    within(last.cpu().numpy(), want_last, 1e-4, "cuda scan groups=%d last_state" % groups)
    assert after["engine"]["cuda_ipc"] >= 1


def test_outputs_are_ready_for_pytorch_at_once_and_views_work():
    x = scan_inputs(44, b=4, d=64, l=512, n=16)
    t = _cuda(x)
    big = t["u"][1:3]                                   # a view at an offset inside PyTorch's allocation
    out = ss2d.selective_scan(big, t["delta"][1:3], t["A"], t["B"][1:3], t["C"][1:3])
    doubled = out * 2                                  # queued on PyTorch's stream right after the reply
    want, _ = reference.selective_scan(x["u"][1:3], x["delta"][1:3], x["A"], x["B"][1:3], x["C"][1:3])
    within(doubled.cpu().numpy() / 2, want, 1e-4, "cuda scan on views")


def test_cross_ops_and_an_ss2d_block_on_cuda():
    _, c = golden(REPO / "conformance" / "golden" / "ss2d_d12_n4_r2_bias_3x7.arrow")
    block = ss2d.SS2D.from_state_dict({k: v for k, v in c.items() if k not in ("x", "out")})
    y = block(torch.from_numpy(c["x"]).cuda())
    assert y.is_cuda
    within(y.cpu().numpy(), c["out"], 2e-4, "ss2d block on cuda tensors")
    xs = torch.randn(2, 3, 5, 7, device="cuda")
    ys = ss2d.cross_scan(xs)
    within(ys.cpu().numpy(), reference.cross_scan(xs.cpu().numpy()), 0.0, "cross_scan on cuda")
    within(ss2d.cross_merge(ys, 5, 7).cpu().numpy(), reference.cross_merge(ys.cpu().numpy(), 5, 7), 1e-6, "cross_merge on cuda")


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
