package org.ss2d.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.vmamba.ModelFloors;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaRandomWeights;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.report.ReportJson;
import org.ss2d.spi.Backend;
import org.ss2d.spi.DeviceRates;
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
                         Map<String, Double> profileMsPerImage, double checkRelErr, long peakDeviceBytes, DType dtype,
                         Floors floors) {
        public Result(String backend, String model, String device, int threads, int batch, int size, Timing timing,
                      Map<String, Double> profileMsPerImage, double checkRelErr, long peakDeviceBytes, DType dtype) {
            this(backend, model, device, threads, batch, size, timing, profileMsPerImage, checkRelErr, peakDeviceBytes,
                    dtype, null);
        }

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
            if (floors != null) {
                m.put("profile_floor_ms_per_image", floors.floorMsPerImage());
                m.put("profile_ratio", ratios());
                m.put("profile_bound", floors.bound());
                m.put("floor_ms_per_image", floors.totalMsPerImage());
                m.put("copy_gbps", floors.rates().copyGBps());
                m.put("gemm_tflops", floors.rates().modelTflops());
                m.put("gemm_tflops_square", floors.rates().squareTflops());
                m.put("gemm_mode", floors.rates().gemmMode());
            }
            return ReportJson.line(m);
        }

        /** Measured over floor per profiled kind that has a floor (empty without floors). */
        public Map<String, Double> ratios() {
            Map<String, Double> r = new LinkedHashMap<>();
            if (floors == null) return r;
            for (var e : profileMsPerImage.entrySet()) {
                Double f = floors.floorMsPerImage().get(e.getKey());
                if (f != null && f > 0) r.put(e.getKey(), e.getValue() / f);
            }
            return r;
        }
    }

    /** A step above this many times its floor is marked in the profile table. */
    public static final double FLOOR_MARK = 2.0;

    /**
     * The floors of a profile ({@link ModelFloors}) at the rates measured in the same process: per kind, milliseconds
     * per image and what bounds it ({@code bytes} or {@code flops}); FLOPs at the rate on the model's own GEMM shapes.
     */
    public record Floors(DeviceRates rates, Map<String, Double> floorMsPerImage, Map<String, String> bound) {
        static Floors of(ModelFloors f, DeviceRates r, int batch) {
            Map<String, Double> ms = new LinkedHashMap<>();
            for (var e : f.floorMs(r.copyGBps(), r.modelTflops()).entrySet()) ms.put(e.getKey(), e.getValue() / batch);
            return new Floors(r, ms, f.bound(r.copyGBps(), r.modelTflops()));
        }

        public double totalMsPerImage() {
            return floorMsPerImage.values().stream().mapToDouble(Double::doubleValue).sum();
        }
    }

    /**
     * The profile as printed by {@code ss2d bench model --profile}: one line per kind (ms per image, share and, with
     * floors, the floor, measured / floor, the bound and {@code <-- above 2x} past {@link #FLOOR_MARK}), then the totals.
     * Empty without a profile.
     */
    public static List<String> profileTable(Result r) {
        List<String> out = new ArrayList<>();
        Map<String, Double> prof = r.profileMsPerImage();
        if (prof.isEmpty()) return out;
        double total = prof.values().stream().mapToDouble(Double::doubleValue).sum();
        Floors fl = r.floors();
        if (fl == null) {
            out.add("time per layer kind (ms per image):");
            for (var e : prof.entrySet()) {
                out.add(String.format(Locale.ROOT, "  %-14s %9.3f  %5.1f%%", e.getKey(), e.getValue(), 100 * e.getValue() / total));
            }
            return out;
        }
        DeviceRates rt = fl.rates();
        out.add(String.format(Locale.ROOT, "time per layer kind (ms per image); floor = max(bytes at %.0f GB/s device copy, "
                        + "FLOPs at %.1f TFLOP/s cuBLAS %s on the model's GEMM shapes%s; %.1f at %d^3):", rt.copyGBps(),
                rt.modelTflops(), rt.gemmMode(), rt.modelGemms() == 0 ? " (none compute-bound: the cube's rate)" : "",
                rt.squareTflops(), rt.squareSize()));
        out.add(String.format(Locale.ROOT, "  %-14s %9s  %6s %9s %8s  %s", "kind", "ms", "share", "floor", "ratio", "bound"));
        Map<String, Double> ratio = r.ratios();
        double floorOfProfiled = 0;
        for (var e : prof.entrySet()) {
            Double f = fl.floorMsPerImage().get(e.getKey());
            Double q = ratio.get(e.getKey());
            if (f != null) floorOfProfiled += f;
            out.add(String.format(Locale.ROOT, "  %-14s %9.3f  %5.1f%% %9s %8s  %-5s%s", e.getKey(), e.getValue(),
                    100 * e.getValue() / total, f == null ? "n/a" : String.format(Locale.ROOT, "%.4f", f),
                    q == null ? "n/a" : String.format(Locale.ROOT, "%.1fx", q), fl.bound().getOrDefault(e.getKey(), ""),
                    q != null && q > FLOOR_MARK ? "  <-- above " + (int) FLOOR_MARK + "x" : ""));
        }
        out.add(String.format(Locale.ROOT, "  %-14s %9.3f  %6s %9.4f %7.1fx  (profiled kinds summed)", "total", total, "",
                floorOfProfiled, total / floorOfProfiled));
        out.add(String.format(Locale.ROOT, "whole model: %.3f ms per image measured (timed calls) against a %.4f ms floor "
                + "(every kind's floor summed): %.1fx", r.msPerImage(), fl.totalMsPerImage(), r.msPerImage() / fl.totalMsPerImage()));
        return out;
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
            // the floors of the profile, at rates measured now, with the model's memory given back
            Floors floors = null;
            if (c.profile()) {
                ModelFloors mf = ModelFloors.of(cfg, c.batch(), c.size(), c.size(), dt);
                try {
                    floors = be.measureRates(dt, mf.gemms()).map(r -> Floors.of(mf, r, c.batch())).orElse(null);
                } catch (RuntimeException e) {
                    System.err.println("warning: no floors, the rates could not be measured: " + e.getMessage());
                }
            }
            scope.release();
            return new Result(h.backend().name(), cfg.name(), h.backend().capabilities().device(), h.threads(), c.batch(),
                    c.size(), t, prof, check, peak, dt, floors);
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
        profileTable(r).forEach(System.out::println);
        System.out.println(r.toJson());
    }
}
