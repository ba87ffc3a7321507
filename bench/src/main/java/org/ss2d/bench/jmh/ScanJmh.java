package org.ss2d.bench.jmh;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.ScanRef;
import org.ss2d.spi.Backend;
import org.ss2d.spi.BackendOptions;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * JMH view of the CPU selective scan on the shapes (batch lowered; ns/elem does not depend on
 * it): {@code scanSimd} with the Vector API, {@code scanScalar} on the scalar kernels. The kernels are
 * chosen once per JVM, so each method forks with its own {@code -Dss2d.cpu.kernels} (as Lucene's
 * benchmarks choose their vectorization provider) and reaches the backend through the SPI only. The
 * setup runs the scan once and compares the first batch with the float64 reference, so a fast wrong
 * kernel cannot post a number. Run: {@code java -jar bench/target/benchmarks.jar ScanJmh} or through
 * {@code org.openjdk.jmh.Main} on the bench class path.
 *
 * <p>Forks: 2, so that one unlucky JIT or stack placement does not decide the figure (the C anchor
 * varies up to 1.8x with its stack position); the flags are the parent pom's ss2d.jvm.flags.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class ScanJmh {
    /** batch x dim x groups x seqlen x dstate ("x": JMH splits -p values at commas): S1, S3, S5 with lowered batch, and an odd one. */
    @Param({"4x768x4x3136x1", "8x1536x4x784x1", "2x2048x1x4096x16", "1x200x4x1001x3"})
    public String shape;

    @Param({"1", "2"})
    public int threads;

    private TensorScope scope;
    private Backend cpu;
    private ScanArgs args;
    private Tensor out;

    @Setup(Level.Trial)
    public void setup() {
        String[] p = shape.split("x");
        int b = Integer.parseInt(p[0]), d = Integer.parseInt(p[1]), g = Integer.parseInt(p[2]), l = Integer.parseInt(p[3]),
                n = Integer.parseInt(p[4]);
        scope = TensorScope.root("jmh-scan");
        Tensor u = RandomWeights.gaussian(scope, 1, 1.0, b, d, l);
        Tensor delta = RandomWeights.gaussian(scope, 2, 0.5, b, d, l);
        Tensor bm = RandomWeights.gaussian(scope, 3, 1.0, b, g, n, l);
        Tensor cm = RandomWeights.gaussian(scope, 4, 1.0, b, g, n, l);
        Tensor a = RandomWeights.uniform(scope, 5, -2.0, -0.1, d, n);
        Tensor dSkip = RandomWeights.gaussian(scope, 6, 1.0, d);
        Tensor bias = RandomWeights.uniform(scope, 7, -6.0, -2.0, d);
        out = scope.allocate(DType.F32, b, d, l);
        args = ScanArgs.builder(u, delta, a, bm, cm).D(dSkip).deltaBias(bias).deltaSoftplus(true).build();
        cpu = Backends.create("cpu", BackendOptions.threads(threads));
        out.fill(Float.NaN);
        Ss2d.on(cpu).selectiveScanInto(args, out, null);
        double[] want = ScanRef.run(ScanRef.Problem.of(args, new ScanShape(b, d, l, n, g, BCMode.GROUPED, BCMode.GROUPED), 1))
                .out();
        float[] got = java.util.Arrays.copyOf(out.toFloatArray(), want.length);
        double err = Doubles.relativeError(got, want);
        if (!(err <= 1e-4)) {
            throw new IllegalStateException(cpu.capabilities().device() + " scan " + shape + ": relative error " + err);
        }
    }

    @Benchmark
    @Fork(value = 2, jvmArgsPrepend = {"--add-opens=java.base/java.nio=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED",
            "--add-modules=jdk.incubator.vector", "--sun-misc-unsafe-memory-access=allow", "-Dss2d.cpu.kernels=simd"})
    public Tensor scanSimd() {
        Ss2d.on(cpu).selectiveScanInto(args, out, null);
        return out;
    }

    @Benchmark
    @Fork(value = 2, jvmArgsPrepend = {"--add-opens=java.base/java.nio=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED",
            "--add-modules=jdk.incubator.vector", "--sun-misc-unsafe-memory-access=allow", "-Dss2d.cpu.kernels=scalar"})
    public Tensor scanScalar() {
        Ss2d.on(cpu).selectiveScanInto(args, out, null);
        return out;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        cpu.close();
        for (Tensor t : args.tensors()) if (t != null) t.close();
        out.close();
        scope.close();
    }
}
