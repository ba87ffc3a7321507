#!/usr/bin/env python3
"""Round trip pyarrow -> Java -> pyarrow, checked by NumPy in float64.

    python3 interop/scripts/roundtrip.py [--ss2d CMD] [--backend NAME] [--keep DIR]

For each case: pyarrow writes an Arrow IPC case file as docs/case-files.md describes
(fixed_shape_tensor columns, or a plain FixedSizeList with a "shape" field metadata, float32 or
float64 values), the Java engine runs it (`ss2d run CASE -o RESULT [--backend NAME]`), pyarrow reads
the result file back and NumPy compares it with its own float64 computation (ss2d_ref.py).

Cases: selective_scan in its B/C modes and options (grouped, variable, constant; D, z, delta_bias,
softplus, return_last_state; float64 input; plain FixedSizeList columns), an ss2d case whose weights
come from the PyTorch safetensors fixture (when the safetensors package is installed), and a case
that must be rejected (exit status 2, one line, no result file).

CMD defaults to ./ss2d in the repository root (needs a JDK 25 there; a bundle from `./ss2d bundle`
works without one: --ss2d dist/ss2d/bin/ss2d). Exit status 0 when every case passes.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import ss2d_ref  # noqa: E402

# float32 engine vs float64 reference, relative to the output's max magnitude (the fp32 results of
# the CPU and CUDA backends are ~1e-6 off; this bound flags a real fault, not rounding).
REL_TOL = 1e-4


def tensor_column(a, plain=False, dtype=np.float32):
    """One-row column holding tensor `a`: arrow.fixed_shape_tensor, or FixedSizeList + shape metadata."""
    a = np.ascontiguousarray(a, dtype=dtype)
    if plain:
        values = pa.array(a.reshape(-1), type=pa.from_numpy_dtype(dtype))
        return pa.FixedSizeListArray.from_arrays(values, a.size), {b"shape": json.dumps(list(a.shape)).encode()}
    batch = np.empty((1,) + a.shape, dtype=dtype)  # fresh C strides (a[None] has a 0 stride pyarrow refuses)
    batch[0] = a
    return pa.FixedShapeTensorArray.from_numpy_ndarray(batch), None


def write_case(path, kind, options, tensors, plain=(), dtype64=()):
    fields, arrays = [], []
    for name, a in tensors.items():
        arr, meta = tensor_column(a, plain=name in plain, dtype=np.float64 if name in dtype64 else np.float32)
        fields.append(pa.field(name, arr.type, nullable=False, metadata=meta))
        arrays.append(arr)
    schema = pa.schema(fields, metadata={"ss2d.kind": kind, "ss2d.options": json.dumps(options)})
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, schema) as w:
        w.write_batch(pa.record_batch(arrays, schema=schema))


def read_result(path):
    with pa.memory_map(path) as src:
        t = pa.ipc.open_file(src).read_all()
    meta = {k.decode(): v.decode() for k, v in (t.schema.metadata or {}).items()}
    out = {}
    for name in t.column_names:
        col = t.column(name).combine_chunks()
        if not isinstance(col.type, pa.FixedShapeTensorType):
            raise AssertionError(f"result column {name}: expected arrow.fixed_shape_tensor, found {col.type}")
        if col.type.value_type != pa.float32():
            raise AssertionError(f"result column {name}: expected float32 values, found {col.type.value_type}")
        out[name] = col.to_numpy_ndarray()[0]
    return out, meta


def run_engine(cmd, case, result, backend):
    argv = shlex.split(cmd) + ["run", case, "-o", result]
    if backend:
        argv += ["--backend", backend]
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    return p, time.perf_counter() - t0


def compare(name, got, want):
    if got.shape != want.shape:
        return f"{name}: shape {got.shape}, expected {want.shape}"
    if not np.all(np.isfinite(got)):
        return f"{name}: {np.count_nonzero(~np.isfinite(got))} non-finite values"
    scale = float(np.max(np.abs(want)))
    if scale < 1e-3:
        return f"{name}: degenerate expectation (max |ref| = {scale})"
    err = float(np.max(np.abs(got.astype(np.float64) - want))) / scale
    return None if err <= REL_TOL else f"{name}: max rel err {err:.3e} > {REL_TOL}", err


def scan_cases(rng):
    def f32(*shape, scale=1.0, lo=None, hi=None):
        if lo is not None:
            return rng.uniform(lo, hi, size=shape).astype(np.float32)
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    cases = []
    b, d, l, n, g = 2, 8, 37, 4, 2
    base = dict(u=f32(b, d, l), delta=f32(b, d, l, scale=0.5), A=-np.exp(f32(d, n, scale=0.5)).astype(np.float32))
    cases.append(("scan grouped B/C, D, z, bias, softplus, last_state",
                  dict(base, B=f32(b, g, n, l), C=f32(b, g, n, l), D=f32(d), z=f32(b, d, l), delta_bias=f32(d, scale=0.3)),
                  dict(delta_softplus=True, return_last_state=True), (), ()))
    cases.append(("scan variable B/C (3-D), no options",
                  dict(base, B=f32(b, n, l), C=f32(b, n, l)), {}, (), ()))
    cases.append(("scan constant B/C, last_state, plain FixedSizeList columns",
                  dict(base, B=f32(d, n), C=f32(d, n), D=f32(d)), dict(return_last_state=True), ("u", "B", "C"), ()))
    cases.append(("scan float64 input columns, softplus",
                  dict(base, B=f32(b, 1, n, l), C=f32(b, 1, n, l), delta_bias=f32(d)), dict(delta_softplus=True),
                  (), ("u", "delta")))
    big = dict(u=f32(1, 16, 300), delta=f32(1, 16, 300, lo=-4, hi=1), A=-np.exp(f32(16, 16, scale=0.5)).astype(np.float32),
               B=f32(1, 4, 16, 300), C=f32(1, 4, 16, 300), D=f32(16))
    cases.append(("scan L=300, dstate 16, 4 groups, softplus, last_state", big,
                  dict(delta_softplus=True, return_last_state=True), (), ()))
    return cases


def expected_scan(t, opt):
    r = ss2d_ref.selective_scan(t["u"], t["delta"], t["A"], t["B"], t["C"], D=t.get("D"), z=t.get("z"),
                                delta_bias=t.get("delta_bias"), delta_softplus=opt.get("delta_softplus", False),
                                return_last_state=opt.get("return_last_state", False))
    return {"out": r[0], "last_state": r[1]} if opt.get("return_last_state") else {"out": r}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ss2d", default=os.path.join(ROOT, "ss2d"), help="the ss2d command (default ./ss2d)")
    ap.add_argument("--backend", default=None, help="backend to force (default: the engine's choice)")
    ap.add_argument("--keep", default=None, help="keep the case and result files in this directory")
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="ss2d-roundtrip-")
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(20261123)
    print(f"pyarrow {pa.__version__}, numpy {np.__version__}, engine: {args.ss2d} run ... "
          f"{'--backend ' + args.backend if args.backend else '(auto)'}, files in {work}")
    failures, rows = 0, []

    def check(label, kind, tensors, options, expected, plain=(), dtype64=()):
        nonlocal failures
        case = os.path.join(work, f"case{len(rows)}.arrow")
        result = os.path.join(work, f"result{len(rows)}.arrow")
        write_case(case, kind, options, tensors, plain, dtype64)
        p, secs = run_engine(args.ss2d, case, result, args.backend)
        if p.returncode != 0:
            failures += 1
            rows.append((label, "FAIL", f"exit {p.returncode}: {(p.stderr or p.stdout).strip().splitlines()[-1:]}"))
            return
        got, meta = read_result(result)
        problems, errs = [], []
        for name, want in expected.items():
            if name not in got:
                problems.append(f"{name}: missing in result")
                continue
            res = compare(name, got[name], want)
            if isinstance(res, tuple):
                if res[0]:
                    problems.append(res[0])
                errs.append(f"{name} {res[1]:.1e}")
            elif res:
                problems.append(res)
        for k in ("ss2d.kind", "ss2d.backend", "ss2d.device", "ss2d.elapsed_ms"):
            if k not in meta:
                problems.append(f"result metadata {k} missing")
        if meta.get("ss2d.kind") != kind:
            problems.append(f"ss2d.kind {meta.get('ss2d.kind')} != {kind}")
        status = "FAIL" if problems else "ok"
        failures += bool(problems)
        rows.append((label, status, f"backend {meta.get('ss2d.backend')}, rel err {', '.join(errs)}, "
                                    f"{meta.get('ss2d.elapsed_ms')} ms in the engine, {secs:.1f} s wall"
                                    + ("; " + "; ".join(problems) if problems else "")))

    for label, t, opt, plain, d64 in scan_cases(rng):
        ref_inputs = {k: v.astype(np.float64) for k, v in t.items()}
        check(label, "selective_scan", t, opt, expected_scan(ref_inputs, opt), plain, d64)

    fixtures = os.path.join(ROOT, "interop", "src", "test", "resources", "safetensors")
    try:
        from safetensors.numpy import load_file
    except ImportError:
        rows.append(("ss2d with the PyTorch safetensors fixture", "skipped", "no safetensors package"))
    else:
        w = load_file(os.path.join(fixtures, "vmamba_blocks.safetensors"))
        ex = load_file(os.path.join(fixtures, "vmamba_blocks_expected.safetensors"))
        prefix = "layers.0.blocks.1.op."
        t = {"x": ex["x"]}
        t.update({k[len(prefix):]: v for k, v in w.items() if k.startswith(prefix)})
        check("ss2d, weights from the PyTorch safetensors fixture (block 1)", "ss2d", t, {}, {"out": ex["ss2d.1"]})
        vp = "layers.0.blocks.0."
        t = {"x": ex["x"]}
        t.update({k[len(vp):]: v for k, v in w.items() if k.startswith(vp)})
        check("vss_block, weights from the fixture (block 0)", "vss_block", t, {"mlp_ratio": 4.0}, {"out": ex["vss.0"]})

    # Rejected input: delta of the wrong shape -> exit 2, one line naming delta, no result file.
    bad = os.path.join(work, "bad.arrow")
    bad_result = os.path.join(work, "bad_result.arrow")
    t = dict(u=np.ones((1, 4, 5), np.float32), delta=np.ones((1, 4, 6), np.float32), A=-np.ones((4, 2), np.float32),
             B=np.ones((4, 2), np.float32), C=np.ones((4, 2), np.float32))
    write_case(bad, "selective_scan", {}, t)
    p, _ = run_engine(args.ss2d, bad, bad_result, args.backend)
    msg = (p.stderr or "").strip().splitlines()
    ok = p.returncode == 2 and not os.path.exists(bad_result) and any("delta" in m for m in msg)
    failures += not ok
    rows.append(("rejected case (delta shape) -> exit 2, no result", "ok" if ok else "FAIL",
                 f"exit {p.returncode}: {msg[-1] if msg else ''}"))

    width = max(len(r[0]) for r in rows)
    for label, status, detail in rows:
        print(f"{label:<{width}}  {status:<7} {detail}")
    print(f"{len(rows) - failures}/{len(rows)} cases passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
