package org.ss2d.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.ss2d.cpu.kernel.Kernels;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/** Seeded test tensors in one scope; every tensor made here is closed with the fixture. */
final class Fixture implements AutoCloseable {
    final TensorScope scope;
    final SplittableRandom rnd;
    private final List<Tensor> made = new ArrayList<>();

    Fixture(String name, long seed) {
        scope = TensorScope.root(name);
        rnd = new SplittableRandom(seed);
    }

    Tensor gauss(double scale, long... shape) {
        Tensor t = track(scope.allocate(DType.F32, shape));
        for (long i = 0; i < t.elementCount(); i++) t.setFloat(i, (float) (scale * rnd.nextGaussian()));
        return t;
    }

    Tensor uniform(double lo, double hi, long... shape) {
        Tensor t = track(scope.allocate(DType.F32, shape));
        for (long i = 0; i < t.elementCount(); i++) t.setFloat(i, (float) (lo + (hi - lo) * rnd.nextDouble()));
        return t;
    }

    /** An output poisoned with NaN, so that an element the kernel never wrote fails the check. */
    Tensor poisoned(long... shape) {
        return track(scope.allocate(DType.F32, shape)).fill(Float.NaN);
    }

    /** An output of {@code dtype} poisoned with NaN. */
    Tensor poisoned(DType dtype, long... shape) {
        return track(scope.allocate(dtype, shape)).fill(Float.NaN);
    }

    /** {@code t} rounded to {@code dtype} (a new tensor of this fixture; F32 returns t itself). */
    Tensor as(DType dtype, Tensor t) {
        return t == null || dtype == DType.F32 ? t : track(scope.convert(t, dtype));
    }

    Tensor track(Tensor t) {
        made.add(t);
        return t;
    }

    /** What the failure messages name: backend, kernels, dtype. */
    static String who(CpuBackend b) {
        return "cpu backend (" + b.kernels().name() + " kernels, " + b.threads() + " threads) f32";
    }

    static String kernelsName() {
        return Kernels.get().name();
    }

    @Override
    public void close() {
        for (Tensor t : made) t.close();
        scope.close();
    }
}
