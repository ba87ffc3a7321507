"""CUDA tensors (GPU host only: skipped without torch.cuda). What the package does today: it sends a CUDA
tensor as the IPC memory handle PyTorch exports for its own multiprocessing, after PyTorch's current stream
has finished with it; the engine does not open such handles yet and answers NotImplementedError. The
handle itself is checked by opening it in another process, as the engine would."""

import base64
import multiprocessing

import numpy as np
import pytest

import ss2d
from conftest import scan_inputs
from ss2d import _refs

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (torch.cuda.is_available() is False)")]


def _open_in_child(ref, q):
    import torch
    c = ref["cuda"]
    storage = torch.UntypedStorage._new_shared_cuda(c["device"], base64.b64decode(c["handle"]), c["storage_bytes"],
                                                    0, None, 0, None, False)
    t = torch.empty(0, dtype=torch.float32, device="cuda:%d" % c["device"])
    n = int(np.prod(ref["shape"]))
    t.set_(storage, c["offset"] // 4, (n,))
    q.put(t.cpu().numpy().tolist())


def test_the_ipc_handle_opens_in_another_process():
    x = torch.arange(1000, dtype=torch.float32, device="cuda")[200:700]   # a view: storage offset != 0
    keep = []
    ref = _refs.cuda_ref(x, "x", keep)
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_open_in_child, args=(ref, q))
    p.start()
    got = q.get(timeout=60)
    p.join(60)
    assert got == x.cpu().numpy().tolist()


def test_cuda_tensors_are_refused_until_the_engine_opens_ipc_handles():
    x = scan_inputs(41)
    t = {k: torch.from_numpy(v).cuda() for k, v in x.items()}
    with pytest.raises(NotImplementedError, match="CUDA tensors"):
        ss2d.selective_scan(t["u"], t["delta"], t["A"], t["B"], t["C"])


def test_host_tensors_run_on_the_cuda_backend():
    names = {b["name"]: b for b in ss2d.backends()}
    if not names.get("cuda", {}).get("available"):
        pytest.skip("the engine's CUDA backend is unavailable: %s" % names.get("cuda", {}).get("reason"))
    x = {k: ss2d.shared(v) for k, v in scan_inputs(42, groups=2).items()}
    kw = dict(D=x["D"], z=x["z"], delta_bias=x["delta_bias"], delta_softplus=True)
    gpu = ss2d.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], backend="cuda", **kw)
    ref = ss2d.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], backend="reference", **kw)
    err = np.abs(gpu - ref).max() / np.abs(ref).max()
    assert np.isfinite(gpu).all() and err <= 2e-4, "cuda vs reference: %.3g" % err
