#!/usr/bin/env python3
"""Host<->device bandwidth baseline for the GPU path of the interop module, with PyTorch (and
pyarrow if present), so that the Java measurement (org.ss2d.interop.transfer.TransferBenchmark) has
numbers from the same machine to be compared with.

    python3 interop/scripts/h2d_baseline.py [MiB=256] [reps=20]

Rows: pageable (plain malloc'd host memory), pinned (cudaHostAlloc, PyTorch pin_memory), and an
Arrow buffer (pyarrow, 64-byte aligned) before and after cudaHostRegister - the path the Java side
takes for Arrow-backed tensors. GB/s = bytes / median time, one direction per row.
"""
import statistics
import sys
import time

import torch


def timed(fn, reps):
    fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def row(name, host, dev, reps):
    n = host.numel() * host.element_size()
    h2d = timed(lambda: dev.copy_(host, non_blocking=True), reps)
    d2h = timed(lambda: host.copy_(dev, non_blocking=True), reps)
    print(f"{name:<28} H2D {n / h2d / 1e9:7.2f} GB/s   D2H {n / d2h / 1e9:7.2f} GB/s")
    return n / h2d / 1e9, n / d2h / 1e9


def main():
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    n = mib * 1024 * 1024 // 4
    print(f"device {torch.cuda.get_device_name(0)}, torch {torch.__version__}, {mib} MiB, median of {reps}")
    dev = torch.empty(n, dtype=torch.float32, device="cuda")
    pageable = torch.randn(n)
    row("pageable (torch)", pageable, dev, reps)
    pinned = pageable.pin_memory()
    base = row("pinned (cudaHostAlloc)", pinned, dev, reps)
    try:
        import numpy as np
        import pyarrow as pa
    except ImportError as e:
        print(f"pyarrow row skipped: {e}")
        return
    buf = pa.allocate_buffer(n * 4)  # Arrow's allocator: 64-byte aligned
    arr = np.frombuffer(buf, dtype=np.float32)  # zero-copy view
    host = torch.from_numpy(arr)
    host.copy_(pageable)
    row(f"arrow buffer (pyarrow {pa.__version__})", host, dev, reps)
    cudart = torch.cuda.cudart()
    rc = cudart.cudaHostRegister(buf.address, buf.size, 0)
    print(f"cudaHostRegister(arrow buffer) -> {rc}")
    reg = row("arrow buffer, registered", host, dev, reps)
    print(f"registered arrow / pinned: H2D {reg[0] / base[0]:.1%}  D2H {reg[1] / base[1]:.1%}")
    cudart.cudaHostUnregister(buf.address)


if __name__ == "__main__":
    main()
