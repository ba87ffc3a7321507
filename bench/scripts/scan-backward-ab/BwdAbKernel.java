package abh;

import org.ss2d.cpu.CpuBackend;
import org.ss2d.ops.*;
import org.ss2d.tensor.Tensor;

/** Loaded once per variant's class loader: forward and backward runnables on that variant's backend. */
public final class BwdAbKernel {
    public static Runnable[] make(ScanArgs args, ScanShape s, Tensor dout, Tensor out, ScanGrads grads, int threads) {
        CpuBackend be = new CpuBackend(threads);
        return new Runnable[] {() -> be.selectiveScan(args, s, out, null),
            () -> be.selectiveScanBackward(args, s, dout, null, grads)};
    }
}
