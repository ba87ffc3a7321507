#!/usr/bin/env python3
"""Checks vmamba_checkpoint_to_safetensors.py on checkpoints written by VMamba's own training code.

A randomly initialised VMamba (a released configuration) and an EMA copy of it are saved with
VMamba's `save_checkpoint_ema` (classification/utils/utils.py), with an optimizer that took a step,
a scheduler, a loss scaler and a yacs-like `config` object, as its training loop saves them. The
converter then runs in a fresh interpreter where yacs, timm and VMamba's code are not importable;
every tensor of `model` and of `model_ema` must come back bit-identical under its own name, legacy
names must pass through unchanged, and a wrong key or file must exit 2 without writing.

    python3 test_vmamba_checkpoint.py --vmamba PATH/TO/VMamba [--model vmamba_tiny_s1l8] [--keep DIR]

Needs torch and safetensors (CPU). Prints one line per check; exits non-zero on the first failure.
"""
import argparse
import copy
import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
import types

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
CONVERTER = os.path.join(HERE, "vmamba_checkpoint_to_safetensors.py")
GOLDEN = os.path.join(HERE, "..", "..", "conformance", "vmamba-golden", "make_vmamba_golden.py")


def import_path(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def convert(ckpt, out, *extra):
    # A fresh interpreter that cannot import yacs/timm (nothing of this process leaks into it).
    return subprocess.run([sys.executable, CONVERTER, ckpt, out, *extra], capture_output=True, text=True)


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vmamba", required=True)
    ap.add_argument("--model", default="vmamba_tiny_s1l8")
    ap.add_argument("--keep", help="write the checkpoint and the converted files here (default: a temp folder)")
    args = ap.parse_args()
    golden = import_path("make_vmamba_golden", GOLDEN)
    vm = golden.load_vmamba(args.vmamba)

    # VMamba's utils.py imports timm's ModelEma; a stand-in carrying `.ema` is all save_checkpoint_ema reads.
    class ModelEma:
        def __init__(self, model):
            self.ema = copy.deepcopy(model)
    sys.modules["timm.utils"] = types.SimpleNamespace(ModelEma=ModelEma)
    sys.modules["timm"].utils = sys.modules["timm.utils"]
    utils = import_path("vmamba_utils", os.path.join(args.vmamba, "classification", "utils", "utils.py"))

    # The yacs CfgNode VMamba pickles into every checkpoint, as a dict subclass of a module named yacs.config.
    yacs = types.ModuleType("yacs")
    yacs_config = types.ModuleType("yacs.config")

    CfgNode = type("CfgNode", (dict,), {"__module__": "yacs.config", "__qualname__": "CfgNode"})
    yacs_config.CfgNode = CfgNode
    yacs.config = yacs_config
    sys.modules.update({"yacs": yacs, "yacs.config": yacs_config})

    out_dir = args.keep or tempfile.mkdtemp(prefix="vmamba-ckpt-")
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    model = getattr(vm, args.model)()
    ema = ModelEma(model)
    with torch.no_grad():
        for p in ema.ema.parameters():
            p.add_(0.01 * torch.randn_like(p))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    loss = model(torch.randn(1, 3, 64, 64)).square().mean()
    loss.backward()
    opt.step()
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10)
    scaler = types.SimpleNamespace(state_dict=lambda: {"scale": 65536.0, "growth_tracker": 0})
    config = CfgNode(MODEL=CfgNode(NAME=args.model), OUTPUT=out_dir)
    config.OUTPUT = out_dir       # yacs reads attributes; save_checkpoint_ema reads config.OUTPUT
    utils.save_checkpoint_ema(config, 7, model, 81.5, opt, sched, scaler, logging.getLogger("vmamba"), ema, 81.7)
    ckpt = os.path.join(out_dir, "ckpt_epoch_7.pth")
    check(os.path.isfile(ckpt), f"VMamba's save_checkpoint_ema wrote {ckpt} ({os.path.getsize(ckpt) / 1e6:.1f} MB)")

    from safetensors.torch import load_file
    from safetensors import safe_open
    for key, want in [("model", model.state_dict()), ("model_ema", ema.ema.state_dict())]:
        out = os.path.join(out_dir, f"{args.model}.{key}.safetensors")
        r = convert(ckpt, out, "--key", key)
        check(r.returncode == 0, f"convert --key {key}: {r.stdout.strip() or r.stderr.strip()}")
        got = load_file(out)
        check(list(got) == list(want) or set(got) == set(want), f"{key}: the same {len(want)} keys")
        same = all(torch.equal(got[k], want[k].cpu()) and got[k].dtype == want[k].dtype for k in want)
        check(same, f"{key}: every tensor bit-identical, dtype kept")
        with safe_open(out, "pt") as f:
            md = f.metadata()
        check(md.get("key") == key and md.get("epoch") == "7", f"{key}: metadata {md}")
    differs = any(not torch.equal(model.state_dict()[k], ema.ema.state_dict()[k])
                  for k, v in model.state_dict().items() if v.is_floating_point())
    check(differs, "model and model_ema differ (so picking the key matters)")

    # Legacy names (VMamba's older checkpoints) pass through as they are; the Java loader renames them.
    legacy = {}
    for k, v in model.state_dict().items():
        k2 = k.replace("patch_embed.0.", "patch_embed.proj.").replace("classifier.head.", "head.")
        k2 = k2.replace(".blocks.0.norm.", ".blocks.0.ln_1.").replace(".blocks.0.op.", ".blocks.0.self_attention.")
        legacy[k2] = v
    legacy_ckpt = os.path.join(out_dir, "legacy.pth")
    torch.save({"model": legacy, "config": config}, legacy_ckpt)
    out = os.path.join(out_dir, "legacy.safetensors")
    r = convert(legacy_ckpt, out, "--dtype", "float16")
    check(r.returncode == 0, f"legacy names: {r.stdout.strip() or r.stderr.strip()}")
    got = load_file(out)
    check(set(got) == set(legacy), "legacy names passed through unchanged")
    check(all(got[k].dtype == torch.float16 for k in got if legacy[k].is_floating_point()), "--dtype float16 applied")

    bad = os.path.join(out_dir, "never.safetensors")
    r = convert(ckpt, bad, "--key", "model_emma")
    check(r.returncode == 2 and not os.path.exists(bad) and r.stderr.count("\n") == 1,
          f"wrong key: exit {r.returncode}, one line: {r.stderr.strip()}")
    junk = os.path.join(out_dir, "junk.pth")
    with open(junk, "wb") as f:
        f.write(b"not a checkpoint")
    r = convert(junk, bad)
    check(r.returncode == 2 and not os.path.exists(bad), f"not a checkpoint: exit {r.returncode}: {r.stderr.strip()}")
    print(f"all checks passed ({out_dir})")


if __name__ == "__main__":
    main()
