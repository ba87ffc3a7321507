"""Functions run in other processes by the concurrency tests (importable by name, as spawn needs)."""

import numpy as np


def scan_error(seed):
    """(max relative error of one scan against float64, the engine's pid) in a fresh process."""
    import reference
    import ss2d
    from conftest import scan_inputs
    x = scan_inputs(seed, d=4 + seed % 5, l=20 + seed)
    out = ss2d.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], D=x["D"], delta_softplus=True)
    want, _ = reference.selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], D=x["D"], delta_softplus=True)
    from ss2d import _engine
    return float(np.abs(out - want).max() / np.abs(want).max()), _engine.engine().server_pid
