package org.ss2d.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.spi.Backend;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ss2d demo}: one SS2D block at VMamba-T stage-1 widths with seeded weights, on every
 * available backend that {@code auto} may pick (or the one named), timed, and checked against the
 * float64 reference on sample 0 of the same input.
 */
@Command(name = "demo", description = "SS2D block at VMamba-T stage-1 widths on every available backend: time, "
        + "throughput, agreement with the float64 reference.")
final class DemoCommand implements Callable<Integer> {
    /** Demo agreement threshold (max abs error over max |reference|); the conformance suite owns the real policy. */
    static final double AGREE = 1e-4;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--backend", paramLabel = "NAME", description = "run only this backend (default: every available auto backend)")
    String backend;

    @Option(names = "--batch", defaultValue = "2", description = "images per call (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--grid", defaultValue = "56", description = "H = W (default ${DEFAULT-VALUE}, VMamba-T stage 1)")
    int grid;

    @Option(names = "--runs", defaultValue = "5", description = "timed runs after warm-up; the median is shown (default ${DEFAULT-VALUE})")
    int runs;

    @Option(names = "--warmup", defaultValue = "2", description = "untimed warm-up runs, at least (default ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--warmup-seconds", defaultValue = "6.0",
            description = "warm up for at least this long, so the JIT has compiled the host path (default ${DEFAULT-VALUE})")
    double warmupSeconds;

    @Option(names = "--seed", defaultValue = "42", description = "seed of weights and input (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--no-check", description = "skip the float64 reference check")
    boolean noCheck;

    @Option(names = "--train", description = "instead: fit one VSS block (VMamba-T stage-1 widths) to a fixed random "
            + "target with plain SGD, printing the loss (the backward runs on the chosen backend when it has one, else on reference)")
    boolean train;

    @Option(names = "--steps", defaultValue = "200", description = "SGD steps with --train (default ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--lr", defaultValue = "0.5", description = "SGD learning rate with --train (default ${DEFAULT-VALUE})")
    double lr;

    /** {@code --train}: SGD on one VSS block; the grid defaults to 8 x 8 unless --grid says otherwise. */
    private Integer train(PrintWriter out) {
        atLeast("--steps", steps, 1);
        if (!(lr > 0 && lr < 1e6)) throw new Errors.Rejected("--lr: must be in (0, 1e6), got " + lr);
        boolean gridGiven = spec.commandLine().getParseResult().hasMatchedOption("--grid");
        int g = gridGiven ? grid : 8;
        Ss2d ss = backend == null ? Ss2d.auto() : Backs.facade(backend);
        out.printf(Locale.ROOT, "SGD on one VSS block (d_model 96, d_state 1, ssm_ratio 1, mlp_ratio 4), batch %d, "
                + "%dx%d grid, lr %s, %d steps, loss = mean((out - target)^2) / 2%n", batch, g, g, fmt(lr), steps);
        out.flush();
        TrainDemo.Result r = TrainDemo.run(ss, batch, g, steps, lr, seed, out, Math.max(1, steps / 20));
        out.printf(Locale.ROOT, "loss %.6e -> %.6e (x%.3f) in %d steps; forward on %s, backward on %s%n", r.firstLoss(),
                r.lastLoss(), r.lastLoss() / r.firstLoss(), r.steps(), r.forwardOn(), r.backwardOn());
        return r.lastLoss() < r.firstLoss() ? 0 : 1;
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        atLeast("--batch", batch, 1);
        atLeast("--grid", grid, 1);
        atLeast("--runs", runs, 1);
        atLeast("--warmup", warmup, 0);
        if (!(warmupSeconds >= 0 && warmupSeconds <= 600)) {
            throw new Errors.Rejected("--warmup-seconds: must be in [0, 600], got " + warmupSeconds);
        }
        if (train) return train(out);
        SS2DConfig c = SS2DConfig.of(96, 1, 1.0);
        List<Backend> targets = new ArrayList<>();
        boolean standIn = false;
        if (backend != null) {
            targets.add(Backs.facade(backend).backend());
        } else {
            targets.addAll(Backends.autoCandidates());
            if (targets.isEmpty()) {
                targets.add(Backends.get("reference"));
                standIn = true;
            }
        }
        out.printf(Locale.ROOT, "SS2D demo: VMamba-T stage 1, d_model %d, d_state %d, ssm_ratio %s (d_inner %d), dt_rank %d, "
                        + "d_conv %d, %dx%d grid, batch %d, seeded weights (seed %d)%n", c.dModel(), c.dState(),
                fmt(c.ssmRatio()), c.dInner(), c.dtRank(), c.dConv(), grid, grid, batch, seed);
        out.printf(Locale.ROOT, "Java %s, %d cores; backends: %s%n", Runtime.version(),
                Runtime.getRuntime().availableProcessors(), Backends.reasons());
        if (standIn) {
            out.println("No compute backend is available yet: the float64 reference stands in (labelled 'reference*').");
        }
        out.flush();

        boolean allAgree = true;
        try (TensorScope scope = TensorScope.root("ss2d demo")) {
            SS2DWeights w = RandomWeights.ss2d(scope, c, seed);
            Tensor x = RandomWeights.gaussian(scope, seed + 1, 1.0, batch, c.dModel(), grid, grid);
            // Sample 0 viewed in place (no copy): the slice the reference checks.
            Tensor x0 = scope.wrap("x[0]", x.arrowBuf(), x.arrowOffset(), DType.F32, 1, c.dModel(), grid, grid);
            float[] ref = null;
            if (!noCheck) {
                Backend r = Backends.get("reference");
                Tensor refOut = scope.allocate(DType.F32, x0.shape());
                long t0 = System.nanoTime();
                Ss2d.on(r).ss2dInto(w, x0, refOut);
                double ms = (System.nanoTime() - t0) / 1e6;
                ref = refOut.toFloatArray();
                refOut.close();
                out.printf(Locale.ROOT, "float64 reference on sample 0 (1x%dx%dx%d): %.0f ms%n", c.dModel(), grid, grid, ms);
            }
            out.println();
            Table t = new Table("BACKEND", "DEVICE", "MEDIAN MS", "IMAGES/S", "ON-DEVICE MS", "MAX ABS ERR", "REL ERR",
                    "VS REFERENCE");
            for (Backend b : targets) {
                Row row = measure(scope, b, w, x);
                String label = b.name() + (standIn ? "*" : "");
                String verdict;
                String abs = "-";
                String rel = "-";
                if (ref == null) {
                    verdict = "not checked";
                } else if (b.name().equals("reference")) {
                    verdict = "n/a (is the reference)";
                } else {
                    double[] e = errors(ref, row.firstSample);
                    abs = String.format(Locale.ROOT, "%.2e", e[0]);
                    rel = String.format(Locale.ROOT, "%.2e", e[1]);
                    boolean ok = e[1] <= AGREE && !Double.isNaN(e[0]);
                    allAgree &= ok;
                    verdict = ok ? "agrees (<= 1e-4 of max|ref|)" : "DIFFERS";
                }
                t.row(label, b.capabilities().device(), String.format(Locale.ROOT, "%.1f", row.medianMs),
                        String.format(Locale.ROOT, "%.1f", batch * 1000.0 / row.medianMs), onDevice(scope, b, w, x), abs,
                        rel, verdict);
            }
            t.print(out);
            x0.close();
            x.close();
            scope.release(); // weights die with the demo scope
        }
        out.printf(Locale.ROOT, "%ntimes: median of %d runs after at least %d warm-up runs and %.1f s; MEDIAN MS with host tensors in and out, "
                        + "ON-DEVICE MS with x and out already in the backend's memory (device backends only)%s%n", runs,
                warmup, warmupSeconds, standIn ? "; * = float64 reference standing in for a compute backend" : "");
        return allAgree ? Main.OK : Main.FAILED;
    }

    private record Row(double medianMs, float[] firstSample) {}

    private static void atLeast(String option, long value, long min) {
        if (value < min) throw new Errors.Rejected(option + ": must be >= " + min + ", got " + value);
    }

    /** At least {@code warmup} runs and {@code warmupSeconds}: timing interpreted code would say nothing. */
    private void warm(Runnable op) {
        long end = System.nanoTime() + (long) (warmupSeconds * 1e9);
        for (int i = 0; i < warmup || System.nanoTime() < end; i++) op.run();
    }

    private Row measure(TensorScope scope, Backend b, SS2DWeights w, Tensor x) {
        Ss2d ss = Ss2d.on(b);
        try (Tensor y = scope.allocate(DType.F32, x.shape())) {
            y.fill(Float.NaN); // poison: an element the backend never writes shows up as NaN
            warm(() -> ss.ss2dInto(w, x, y));
            b.synchronize();
            double[] ms = new double[runs];
            for (int i = 0; i < runs; i++) {
                long t0 = System.nanoTime();
                ss.ss2dInto(w, x, y);
                b.synchronize();
                ms[i] = (System.nanoTime() - t0) / 1e6;
            }
            Arrays.sort(ms);
            double median = runs % 2 == 1 ? ms[runs / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2;
            long per = y.elementCount() / y.dim(0);
            float[] first = new float[(int) per];
            for (int i = 0; i < per; i++) first[i] = y.getFloat(i);
            return new Row(median, first);
        }
    }

    /**
     * Median time with {@code x} and the output resident in a device backend's memory (upload once, run,
     * download never): what chained ops see. "-" for host backends; the reason when it cannot run.
     */
    private String onDevice(TensorScope scope, Backend b, SS2DWeights w, Tensor x) {
        if (!b.capabilities().deviceResident()) return "-";
        try (TensorScope dev = scope.child("demo on " + b.name())) {
            Ss2d ss = Ss2d.on(b);
            Tensor xd = ss.toDevice(dev, x);
            Tensor yd = b.allocate(dev, DType.F32, x.shape());
            warm(() -> ss.ss2dInto(w, xd, yd));
            b.synchronize();
            double[] ms = new double[runs];
            for (int i = 0; i < runs; i++) {
                long t0 = System.nanoTime();
                ss.ss2dInto(w, xd, yd);
                b.synchronize();
                ms[i] = (System.nanoTime() - t0) / 1e6;
            }
            Arrays.sort(ms);
            yd.close();
            xd.close();
            double median = runs % 2 == 1 ? ms[runs / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2;
            return String.format(Locale.ROOT, "%.2f", median);
        } catch (RuntimeException e) {
            return "n/a (" + e.getMessage() + ")";
        }
    }

    /** {max abs error, max abs error / max |ref|}; NaN anywhere gives NaN. */
    static double[] errors(float[] ref, float[] got) {
        double maxErr = 0;
        double maxRef = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = Math.abs((double) got[i] - ref[i]);
            if (Double.isNaN(d)) return new double[] {Double.NaN, Double.NaN};
            maxErr = Math.max(maxErr, d);
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
        }
        return new double[] {maxErr, maxRef == 0 ? maxErr : maxErr / maxRef};
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
