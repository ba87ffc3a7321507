package org.ss2d.bench;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaRandomWeights;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.report.ReportJson;
import org.ss2d.spi.Backend;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * A whole VMamba model timed on one backend: seeded weights (VMamba's initialisation), a random
 * {@code (batch, 3, size, size)} input, warm-up, then the median of {@code reps} calls; with profiling,
 * a second series of calls timed per layer kind (the clock reads add a little, so they are not part of
 * the headline figure). Before timing, the backend's logits at 32x32 are checked against the
 * {@code reference} backend when it is on the class path.
 *
 * <pre>java ... org.ss2d.bench.ModelBench model=vmamba_tiny_s1l8 batch=1 size=224 threads=2 reps=11 profile=true</pre>
 */
public final class ModelBench {
    private ModelBench() {}

    /** {@code dtype}: the model's dtype option (images, activations and logits in it). */
    public record Config(String backend, String model, int batch, int size, int threads, int warmup, int reps,
                         boolean profile, long seed, DType dtype) {
        public Config(String backend, String model, int batch, int size, int threads, int warmup, int reps,
                      boolean profile, long seed) {
            this(backend, model, batch, size, threads, warmup, reps, profile, seed, DType.F32);
        }
    }

    /**
     * @param peakDeviceBytes the device backend's peak memory during the model's build and timed calls (weights,
     *                        activations, scratch; {@code Backend.peakDeviceBytes}), -1 on a host backend
     */
    public record Result(String backend, String model, String device, int threads, int batch, int size, Timing timing,
                         Map<String, Double> profileMsPerImage, double checkRelErr, long peakDeviceBytes, DType dtype) {
        public double msPerImage() {
            return timing.medianMs() / batch;
        }

        public double imagesPerS() {
            return 1000.0 / msPerImage();
        }

        /** One line of JSON, through the project's report writer ({@link ReportJson}). */
        public String toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("bench", "model");
            m.put("backend", backend);
            m.put("model", model);
            m.put("dtype", dtype.arrowName());
            m.put("device", device);
            m.put("threads", threads);
            m.put("batch", batch);
            m.put("size", size);
            m.put("median_ms", timing.medianMs());
            m.put("min_ms", timing.minMs());
            m.put("ms_per_image", msPerImage());
            m.put("images_per_s", imagesPerS());
            m.put("check_rel_err", checkRelErr);
            if (peakDeviceBytes >= 0) m.put("peak_device_bytes", peakDeviceBytes);
            m.put("profile_ms_per_image", profileMsPerImage);
            return ReportJson.line(m);
        }
    }

    public static Result run(Config c) {
        VMambaConfig cfg = VMambaConfig.named(c.model());
        try (Backs.Handle h = Backs.open(c.backend(), c.threads());
             TensorScope scope = TensorScope.root("bench-model")) {
            VMambaWeights w = VMambaRandomWeights.of(scope, cfg, c.seed());
            Ss2d ss = Ss2d.on(h.backend());
            DType dt = c.dtype();
            double check = check(ss, w, scope, c.seed(), dt);
            Backend be = h.backend();
            Tensor x = RandomWeights.gaussian(scope, c.seed() + 1, 1.0, c.batch(), 3, c.size(), c.size());
            if (dt != DType.F32) x = scope.convert(x, dt);
            Tensor out = scope.allocate(dt, c.batch(), cfg.numClasses());
            boolean device = be.capabilities().deviceResident();
            if (device) {
                // as VMamba's own timing, the images are already on the device: upload once, time the model alone
                // (each call ends when the device has finished it)
                Tensor xd = be.allocate(scope, dt, x.shape());
                be.copy(x, xd);
                x = xd;
                out = be.allocate(scope, dt, c.batch(), cfg.numClasses());
            }
            Tensor xs = x, outs = out;
            Map<String, Double> prof = new LinkedHashMap<>();
            Timing t;
            be.synchronize();
            be.resetPeakDeviceBytes();
            long peak;
            try (VMambaModel m = ss.vmamba(w, dt)) {
                t = Timing.measure(c.warmup(), c.reps(), () -> {
                    m.logitsInto(xs, outs);
                    be.synchronize();
                });
                peak = be.peakDeviceBytes().orElse(-1);
                if (c.profile()) {
                    m.profiling(true);
                    for (int i = 0; i < c.reps(); i++) m.logitsInto(xs, outs);
                    for (var e : m.profile().entrySet()) {
                        prof.put(e.getKey(), e.getValue() / 1e6 / c.reps() / c.batch());
                    }
                    m.profiling(false);
                }
            }
            scope.release();
            return new Result(h.backend().name(), cfg.name(), h.backend().capabilities().device(), h.threads(), c.batch(),
                    c.size(), t, prof, check, peak, dt);
        }
    }

    /**
     * Max |logit difference| over max |logit| against the reference backend at 32x32 in the same dtype (the reference
     * rounds where the backends store it), NaN without it.
     */
    private static double check(Ss2d ss, VMambaWeights w, TensorScope scope, long seed, DType dt) {
        if (!Backends.names().contains("reference")) return Double.NaN;
        Tensor x = RandomWeights.gaussian(scope, seed + 2, 1.0, 1, 3, 32, 32);
        if (dt != DType.F32) x = scope.convert(x, dt);
        try (VMambaModel m = ss.vmamba(w, dt); VMambaModel r = Ss2d.on("reference").vmamba(w, dt);
             Tensor a = m.logits(scope, x); Tensor b = r.logits(scope, x)) {
            float[] fa = a.toFloatArray(), fb = b.toFloatArray();
            double err = 0, scale = 0;
            for (int i = 0; i < fa.length; i++) {
                err = Math.max(err, Math.abs(fa[i] - fb[i]));
                scale = Math.max(scale, Math.abs(fb[i]));
            }
            return err / scale;
        }
    }

    public static void main(String[] args) {
        Map<String, String> o = new LinkedHashMap<>();
        for (String a : args) {
            int eq = a.indexOf('=');
            if (eq < 1) throw new IllegalArgumentException("expected key=value, found " + a);
            o.put(a.substring(0, eq), a.substring(eq + 1));
        }
        Config c = new Config(o.getOrDefault("backend", "cpu"), o.getOrDefault("model", "vmamba_tiny_s1l8"),
                Integer.parseInt(o.getOrDefault("batch", "1")), Integer.parseInt(o.getOrDefault("size", "224")),
                Integer.parseInt(o.getOrDefault("threads", "0")), Integer.parseInt(o.getOrDefault("warmup", "-1")),
                Integer.parseInt(o.getOrDefault("reps", "11")), Boolean.parseBoolean(o.getOrDefault("profile", "true")), 42,
                DType.byName(o.getOrDefault("dtype", "float32")));
        Result r = run(c);
        System.out.printf(Locale.ROOT, "%s batch %d %dx%d on %s (%s, %d threads): median %.1f ms, %.1f ms/image, %.2f images/s, min %.1f ms, calling thread's CPU time %.1f ms, check %.2e%n",
                r.model(), r.batch(), r.size(), r.size(), r.backend(), r.device(), r.threads(), r.timing().medianMs(),
                r.msPerImage(), r.imagesPerS(), r.timing().minMs(), r.timing().cpuMedianMs(), r.checkRelErr());
        double total = r.profileMsPerImage().values().stream().mapToDouble(Double::doubleValue).sum();
        for (var e : r.profileMsPerImage().entrySet()) {
            System.out.printf(Locale.ROOT, "  %-12s %8.2f ms/image  %5.1f%%%n", e.getKey(), e.getValue(), 100 * e.getValue() / total);
        }
        System.out.println(r.toJson());
    }
}
