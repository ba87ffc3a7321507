"""SS2D, VSSBlock and VMamba from state dicts and safetensors files, against PyTorch's golden vectors."""

import numpy as np
import pytest

import ss2d
from conftest import REPO, golden, within

BLOCK_BUDGET = 2e-4
MODEL_BUDGET = 2e-4


def _dict(cols, skip):
    return {k: v for k, v in cols.items() if k not in skip}


@pytest.mark.parametrize("name,cls", [("ss2d_d12_n4_r2_bias_3x7", ss2d.SS2D), ("ss2d_d8_n2_r2_1x5", ss2d.SS2D),
                                      ("vss_d12_n2_r2_bias_3x3", ss2d.VSSBlock), ("vss_d8_n1_r1_5x6", ss2d.VSSBlock)])
def test_blocks_from_state_dict_match_pytorch(name, cls):
    _, c = golden(REPO / "conformance" / "golden" / (name + ".arrow"))
    m = cls.from_state_dict(_dict(c, {"x", "out"}))
    within(m(c["x"]), c["out"], BLOCK_BUDGET, name)
    assert m.info["d_model"] == c["x"].shape[1]
    m.close()


def test_ss2d_from_safetensors_equals_state_dict_and_torch_in_torch_out(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    from safetensors.numpy import save_file
    _, c = golden(REPO / "conformance" / "golden" / "ss2d_d16_n16_r1_bias_4x4.arrow")
    sd = _dict(c, {"x", "out"})
    path = tmp_path / "block.safetensors"
    save_file({"blk." + k: np.ascontiguousarray(v) for k, v in sd.items()}, str(path))
    from_file = ss2d.SS2D.from_safetensors(path, prefix="blk.")
    from_torch = ss2d.SS2D.from_state_dict({k: torch.from_numpy(v.copy()) for k, v in sd.items()})
    x = torch.from_numpy(c["x"].copy())
    a, b = from_file(x), from_torch(x)
    assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
    assert torch.equal(a, b), "same weights, same input, same backend: the same bits"
    within(a.numpy(), c["out"], BLOCK_BUDGET, "ss2d from safetensors")


@pytest.mark.parametrize("name", ["small_v05_ds1", "small_v0_pe1_ds1", "small_v05_features"])
def test_vmamba_matches_its_own_pytorch_code(name):
    opts, c = golden(REPO / "conformance" / "vmamba-golden" / (name + ".arrow"))
    outs = {k for k in c if k == "logits" or k.startswith("features.")}
    model = ss2d.VMamba.from_state_dict(_dict(c, outs | {"x"}))
    if opts.get("features_only"):
        feats = model.features(c["x"])
        assert len(feats) == 4
        for i, f in enumerate(feats):
            within(f, c["features.%d" % i], MODEL_BUDGET, "%s features.%d" % (name, i))
    else:
        within(model(c["x"]), c["logits"], MODEL_BUDGET, name + " logits")
        assert model.info["num_classes"] == c["logits"].shape[1]
