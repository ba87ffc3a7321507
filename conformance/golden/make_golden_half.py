#!/usr/bin/env python3
"""Half-precision golden vectors: the selective scan on float16 and bfloat16 activations, rounded by PyTorch.

u, delta, z and variable/grouped B, C are drawn as make_golden.py draws them and rounded to the half dtype by
torch itself (`.to(torch.float16)` / `.to(torch.bfloat16)`: round to nearest, ties to even), so a case checks
that the engine reads PyTorch's half values bit for bit; A, D, delta_bias and constant B, C stay float32
(mamba's rules). The expected `out` and `last_state` are float64 columns from make_golden.py's own recurrence
run on the rounded values; the suite judges `out` with the budget of its dtype (conformance/TOLERANCES.md).
Each case is written twice: `out` in the input dtype, and with the option out_float32.

Columns: float16 values as Arrow HalfFloat; bfloat16 values as uint16 bit patterns with the field metadata
logical_dtype = bfloat16 (case-files contract, section Dtypes).

    python3 make_golden_half.py --out DIR      # writes DIR/*.arrow
    ss2d conformance --cases DIR --backend cpu # (and cuda, reference)

On a machine with CUDA and mamba_ssm installed, `--mamba` also runs mamba's own selective_scan_fn on the same
half tensors and prints its error against float64 next to ours' budget (stored as the ignored column
`mamba.out`). Needs torch and pyarrow >= 12.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_golden as mg  # noqa: E402

HALF = {"float16": torch.float16, "bfloat16": torch.bfloat16}
ULP = {"float16": 2.0 ** -11, "bfloat16": 2.0 ** -8, "float32": 0.0}


def half_case(name, seed, dtype, **kw):
    rng = mg.Rng(seed)
    softplus = kw.get("softplus", True)
    t = mg.scan_inputs(rng, **kw)
    half = {}
    for k in ("u", "delta", "z"):
        if k in t:
            half[k] = t[k].to(HALF[dtype])
    for k in ("B", "C"):
        if t[k].dim() > 2:  # variable or grouped: an activation
            half[k] = t[k].to(HALF[dtype])
    rounded = dict(t)
    for k, v in half.items():
        rounded[k] = v.to(torch.float64)
    out, h = mg.run_scan(rounded, softplus)
    return dict(name=name, dtype=dtype, inputs=t, half=half, expected={"out": out, "last_state": h},
                options={"delta_softplus": softplus, "return_last_state": True})


def cases():
    out = []
    for dtype in ("bfloat16", "float16"):
        out.append(half_case(f"half_{dtype}_vmamba_n1_g4", 7100, dtype, batch=2, dim=8, L=160, N=1, G=4,
                             bmode="grouped", cmode="grouped", D=True, z=False, bias=True))
        out.append(half_case(f"half_{dtype}_mamba_n16_z", 7101, dtype, batch=1, dim=4, L=129, N=16,
                             bmode="var", cmode="var", D=True, z=True, bias=False))
        out.append(half_case(f"half_{dtype}_const_b_var_c", 7102, dtype, batch=2, dim=4, L=33, N=4,
                             bmode="const", cmode="var", D=True, z=True, bias=True))
    return out


def column(pa, name, arr, dtype=None):
    """One tensor column: fixed_shape_tensor over float64/float32/halffloat, or uint16 + logical_dtype."""
    shape = list(arr.shape)
    flat = np.ascontiguousarray(arr).reshape(-1)
    meta = None
    if dtype == "bfloat16":
        values = pa.array(flat.view(np.uint16), type=pa.uint16())
        meta = {"logical_dtype": "bfloat16"}
    else:
        values = pa.array(flat)
    storage = pa.FixedSizeListArray.from_arrays(values, int(flat.size))
    ttype = pa.fixed_shape_tensor(values.type, shape)
    return pa.field(name, ttype, metadata=meta), pa.ExtensionArray.from_storage(ttype, storage)


def to_numpy(t, dtype):
    if dtype == "bfloat16":  # numpy has no bfloat16: its bit patterns as uint16
        return t.contiguous().view(torch.int16).numpy().view(np.uint16)
    return t.numpy()


def write(path, case, out_float32, mamba_out=None):
    import pyarrow as pa
    fields, arrays = [], []
    for k, v in case["inputs"].items():
        if k in case["half"]:
            f, a = column(pa, k, to_numpy(case["half"][k], case["dtype"]), case["dtype"])
        else:
            f, a = column(pa, k, v.numpy().astype(np.float32))
        fields.append(f)
        arrays.append(a)
    for k, v in case["expected"].items():
        f, a = column(pa, k, v.numpy().astype(np.float64))
        fields.append(f)
        arrays.append(a)
    if mamba_out is not None:
        f, a = column(pa, "mamba.out", mamba_out.numpy().astype(np.float64))
        fields.append(f)
        arrays.append(a)
    opts = dict(case["options"], out_float32=out_float32)
    meta = {"ss2d.kind": "selective_scan", "ss2d.options": json.dumps(opts),
            "ss2d.note": "half-precision golden vector from conformance/golden/make_golden_half.py"}
    schema = pa.schema(fields, metadata=meta)
    tmp = path + ".tmp"
    with pa.OSFile(tmp, "wb") as sink:
        with pa.ipc.new_file(sink, schema) as w:
            w.write_batch(pa.record_batch(arrays, schema=schema))
    os.replace(tmp, path)


def mamba(case, out_float32):
    """mamba's selective_scan_fn on the same half tensors (CUDA), or None when it is not installed."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except ImportError:
        return None
    dev = "cuda"
    t, h = case["inputs"], case["half"]
    get = lambda k: (h[k] if k in h else t[k].to(torch.float32)).to(dev) if k in t else None
    out = selective_scan_fn(get("u"), get("delta"), get("A").float(), get("B"), get("C"), D=get("D"), z=get("z"),
                            delta_bias=get("delta_bias"), delta_softplus=case["options"]["delta_softplus"])
    return out.to(torch.float64).cpu()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--mamba", action="store_true", help="also run mamba_ssm's kernel (CUDA) and print its error")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    written = {}
    for c in cases():
        for oflex in (False, True):
            m = mamba(c, oflex) if args.mamba else None
            name = c["name"] + ("_out_float32" if oflex else "")
            path = os.path.join(args.out, name + ".arrow")
            write(path, c, oflex, m)
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            opts = dict(c["options"], out_float32=oflex)
            written[name + ".arrow"] = {"kind": "selective_scan", "options": opts, "sha256": digest,
                                        "bytes": os.path.getsize(path), "plain_lists": False, "dtype": c["dtype"]}
            e = c["expected"]["out"]
            line = f"  {name:44s} max|out| {e.abs().max().item():.3e}"
            if m is not None:
                err = ((m - e).abs().max() / e.abs().max()).item()
                line += f"  mamba rel err {err:.2e} (our budget {1e-4 + ULP[c['dtype']]:.2e})"
            print(line)
    # the jar's golden set is indexed by MANIFEST.json (make_golden.py's): add these files to it
    manifest_path = os.path.join(args.out, "MANIFEST.json")
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
        manifest["files"] = {k: v for k, v in manifest["files"].items() if not k.startswith("half_")}
        manifest["files"].update(written)
        with open(manifest_path, "w") as f:
            json.dump(manifest, f, indent=1, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
