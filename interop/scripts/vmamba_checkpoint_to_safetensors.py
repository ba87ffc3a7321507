#!/usr/bin/env python3
"""Converts a VMamba checkpoint (.pth) into a safetensors file that `ss2d` loads without copying.

VMamba's training code saves a pickled dict: the weights under `model` (and the EMA weights under
`model_ema` when EMA was on), plus the optimizer, scheduler, epoch and the yacs `config`. This script
writes one of the two state dicts, every key as it is: the legacy names that VMamba's own loader
renames (`patch_embed.proj`, `ln_1`, `self_attention`, `head`, ...) are passed through, and the Java
loader renames them the same way.

The checkpoint is read without running code from it: with PyTorch's weights-only unpickler, or, for
training checkpoints that also pickle objects of other classes (VMamba's yacs `config`), with an
unpickler that resolves only the globals the weights-only loader allows and turns every other class
into an inert stand-in that just holds its data. yacs, timm and VMamba's code are not needed.

    python3 vmamba_checkpoint_to_safetensors.py vssm_tiny.pth vssm_tiny.safetensors
    python3 vmamba_checkpoint_to_safetensors.py ckpt_epoch_299.pth tiny_ema.safetensors --key model_ema
    python3 vmamba_checkpoint_to_safetensors.py ckpt.pth out.safetensors --dtype float32

Exit status 2, with one line on stderr, when the file is not a checkpoint, the key is absent or an
entry is not a tensor; nothing is written then. Needs torch and safetensors.
"""
import argparse
import os
import sys
import types

import torch

DTYPES = {"keep": None, "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def fail(msg):
    print(f"vmamba_checkpoint_to_safetensors: {msg}", file=sys.stderr)
    sys.exit(2)


class _StandIn(dict):
    """An object of a class that is not allowed (or not installed): it keeps what the file gave it
    (constructor arguments, items, attributes) and runs nothing."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.args = args

    def __setstate__(self, state):
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.state = state


def _restricted_pickle_module():
    """A pickle module whose Unpickler resolves only the globals PyTorch's weights-only loader allows
    (tensor and storage rebuilding, containers, dtypes); every other global, VMamba's yacs CfgNode
    included, becomes an inert _StandIn subclass, so no code named by the file runs."""
    import pickle
    from torch._weights_only_unpickler import _get_allowed_globals
    allowed = dict(_get_allowed_globals())
    stand_ins = {}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            key = f"{module}.{name}"
            if key in allowed:
                return allowed[key]
            if key not in stand_ins:
                stand_ins[key] = type(name, (_StandIn,), {"__module__": module, "__qualname__": name})
            return stand_ins[key]

    mod = types.ModuleType("ss2d_restricted_pickle")
    mod.Unpickler = Unpickler
    mod.load = lambda f, **kw: Unpickler(f, **kw).load()
    mod.__name__ = "pickle"           # torch.load checks the module's name for its legacy format only
    return mod


def load_checkpoint(path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as strict:
        # VMamba's training checkpoints pickle a yacs CfgNode (a dict subclass) next to the weights,
        # which the weights-only loader refuses even when allowed; the restricted unpickler reads it
        # as an inert stand-in instead.
        try:
            return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_restricted_pickle_module())
        except Exception as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
            fail(f"{path}: not a PyTorch checkpoint ({type(e).__name__}: {msg})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="VMamba .pth file")
    ap.add_argument("output", help=".safetensors file to write")
    ap.add_argument("--key", default="model", help="which state dict: model (default) or model_ema")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="keep",
                    help="convert every floating tensor (default: keep the checkpoint's dtypes)")
    args = ap.parse_args()
    if not os.path.isfile(args.checkpoint):
        fail(f"{args.checkpoint}: no such file")
    ckpt = load_checkpoint(args.checkpoint)
    if not isinstance(ckpt, dict):
        fail(f"{args.checkpoint}: expected a dict (a checkpoint or a state dict), found {type(ckpt).__name__}")
    if all(isinstance(v, torch.Tensor) for v in ckpt.values()) and ckpt:
        if args.key != "model":
            fail(f"--key {args.key}: {args.checkpoint} is a bare state dict (no '{args.key}' entry)")
        sd = ckpt                     # a bare state dict (torch.save(model.state_dict()))
    elif args.key in ckpt:
        sd = ckpt[args.key]
    else:
        have = [k for k, v in ckpt.items() if isinstance(v, dict)]
        fail(f"--key {args.key}: no such entry in {args.checkpoint} (state dicts there: {', '.join(have) or 'none'})")
    if not isinstance(sd, dict) or not sd:
        fail(f"--key {args.key}: expected a non-empty state dict, found {type(sd).__name__}")
    out = {}
    want = DTYPES[args.dtype]
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            fail(f"{args.key}.{k}: expected a tensor, found {type(v).__name__}")
        t = v.detach()
        if want is not None and t.is_floating_point():
            t = t.to(want)
        out[k] = t.contiguous().clone()   # safetensors refuses shared or strided storage
    meta = {"format": "pt", "source": os.path.basename(args.checkpoint), "key": args.key}
    if isinstance(ckpt.get("epoch"), int):
        meta["epoch"] = str(ckpt["epoch"])
    from safetensors.torch import save_file
    tmp = args.output + ".tmp"
    try:
        save_file(out, tmp, metadata=meta)
        os.replace(tmp, args.output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    n = sum(t.numel() for t in out.values())
    print(f"{args.output}: {len(out)} tensors, {n / 1e6:.2f} M parameters from '{args.key}' of {args.checkpoint}")


if __name__ == "__main__":
    main()
