"""The SS2D block against a plain PyTorch SS2D written in this repository (bench/torch_ss2d.py, the module the GPU
host's gpu_ss2d_vs_torch.py runs with mamba's scan): here on CPU tensors, with a sequential PyTorch scan in
place of mamba's kernel. The block is built from the module's own state dict; both are checked against the same
module in float64 (the block budget, 2e-4 of max|expected|) and against each other (twice that, backend vs
backend)."""

import copy
import sys

import pytest

import ss2d
from conftest import HERE, REPO, golden, within

torch = pytest.importorskip("torch")
sys.path.insert(0, str(HERE.parent / "bench"))
import torch_ss2d  # noqa: E402

BUDGET = 2e-4


def test_the_torch_module_matches_the_golden_vectors():
    # the comparison module itself is right: it loads VMamba's parameter names and gives PyTorch's float64 golden
    _, c = golden(REPO / "conformance" / "golden" / "ss2d_d12_n4_r2_bias_3x7.arrow")
    sd = {k: torch.from_numpy(v.copy()).double() for k, v in c.items() if k not in ("x", "out")}
    m = torch_ss2d.TorchSS2D(12, d_state=4, dt_rank=sd["dt_projs_weight"].shape[2]).double()
    m.load_state_dict(sd)
    with torch.no_grad():
        y = m(torch.from_numpy(c["x"].copy()).double())
    within(y.numpy(), c["out"], 1e-9, "TorchSS2D (float64) vs the golden ss2d_d12_n4_r2_bias_3x7")


@pytest.mark.parametrize("d_model,d_state,conv_bias,shape", [(16, 1, True, (2, 16, 6, 7)), (24, 4, False, (1, 24, 5, 9)),
                                                             (32, 16, True, (2, 32, 4, 4))])
def test_ss2d_from_a_torch_state_dict_matches_plain_pytorch(d_model, d_state, conv_bias, shape):
    g = torch.Generator().manual_seed(d_model * 100 + d_state)
    m = torch_ss2d.TorchSS2D(d_model, d_state=d_state, conv_bias=conv_bias).randomize(g)
    x = torch.randn(shape, generator=g)
    with torch.no_grad():
        plain = m(x)
        truth = copy.deepcopy(m).double()(x.double())
    block = ss2d.SS2D.from_state_dict(m.state_dict(), backend="cpu")
    y = block(x)
    assert isinstance(y, torch.Tensor) and y.shape == x.shape
    what = "ss2d d_model=%d d_state=%d conv_bias=%s %s" % (d_model, d_state, conv_bias, shape)
    within(y.numpy(), truth.numpy(), BUDGET, what + ": ss2d (cpu) vs float64 PyTorch")
    within(plain.numpy(), truth.numpy(), BUDGET, what + ": plain PyTorch float32 vs float64 PyTorch")
    within(y.numpy(), plain.numpy(), 2 * BUDGET, what + ": ss2d (cpu) vs plain PyTorch float32")
    block.close()


def test_the_gpu_comparison_script_runs_dry_on_the_cpu():
    # bench/gpu_ss2d_vs_torch.py is what the GPU host runs; its CPU dry run (same code path, cpu tensors) keeps it
    # from rotting here: it exits 0 only when every agreement check passed
    import subprocess
    script = HERE.parent / "bench" / "gpu_ss2d_vs_torch.py"
    r = subprocess.run([sys.executable, str(script), "--device", "cpu", "--configs", "tiny", "--reps", "1"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    row = [line for line in r.stdout.splitlines() if line.startswith("| tiny")]
    assert len(row) == 1 and "FAIL" not in row[0], r.stdout
