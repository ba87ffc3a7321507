package org.ss2d.bench;

import java.io.PrintWriter;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code ss2d bench scan|block ...}: parses the options, runs {@link ScanBench} or {@link BlockBench}
 * (each checks its output against float64 before it reports a number), prints a readable line and,
 * with {@code --json}, one JSON object as the last line. Exit status 0, 1 on a failed check, 2 on bad
 * options.
 *
 * <pre>
 * ss2d bench scan  --backend NAME --batch B --dim D --groups G --seqlen L --dstate N [--threads T]
 *                  [--warmup W] [--reps R] [--check-batches K] [--json]
 * ss2d bench block --backend NAME --batch B --d-model C --d-state N --ssm-ratio R --height H --width W
 *                  [--vss] [--threads T] [--warmup W] [--reps R] [--check-batches K] [--json]
 * </pre>
 * Every backend warms up for 3 s (at least 3 calls) unless {@code --warmup N} says otherwise, so
 * that the JIT has compiled the host path; device backends are timed on device-resident tensors
 * over 50 runs, host backends over 11.
 */
public final class BenchMain {
    private BenchMain() {}

    private static final Set<String> SCAN = Set.of("backend", "batch", "dim", "groups", "seqlen", "dstate", "threads",
            "warmup", "reps", "check-batches", "json");
    private static final Set<String> BLOCK = Set.of("backend", "batch", "d-model", "d-state", "ssm-ratio", "height",
            "width", "vss", "threads", "warmup", "reps", "check-batches", "json");
    private static final Set<String> FLAGS = Set.of("json", "vss");

    public static int run(PrintWriter out, PrintWriter err, String... args) {
        if (args.length == 0 || !(args[0].equals("scan") || args[0].equals("block"))) {
            err.println("ss2d bench: expected 'scan' or 'block' first, found "
                    + (args.length == 0 ? "nothing" : "'" + args[0] + "'") + " (see BenchMain's usage)");
            return 2;
        }
        boolean scan = args[0].equals("scan");
        Map<String, String> o;
        try {
            o = parse(List.of(args).subList(1, args.length), scan ? SCAN : BLOCK);
        } catch (IllegalArgumentException e) {
            err.println("ss2d bench " + args[0] + ": " + e.getMessage());
            return 2;
        }
        try {
            String backend = o.getOrDefault("backend", "auto");
            if (backend.equals("auto")) backend = org.ss2d.Backends.best().name();
            boolean device = org.ss2d.Backends.get(backend).capabilities().deviceResident();
            int warmup = o.containsKey("warmup") ? integer(o, "warmup", 0) : -1, reps = integer(o, "reps", device ? 50 : 11);
            int threads = integer(o, "threads", 0), check = integer(o, "check-batches", 1);
            String json;
            if (scan) {
                ScanBench.Result r = ScanBench.run(new ScanBench.Config(backend, integer(o, "batch", 32),
                        integer(o, "dim", 768), integer(o, "groups", 4), integer(o, "seqlen", 3136), integer(o, "dstate", 1),
                        threads, warmup, reps, check, 42));
                out.printf(Locale.ROOT, "scan %s (%d, %d, %d, %d, %d) on %s, %d threads: median %.4f ms, %.4f ns/elem, %.1f GB/s, check %.2e%s%n",
                        r.backend(), r.batch(), r.dim(), r.groups(), r.seqlen(), r.dstate(), r.device(), r.threads(),
                        r.medianMs(), r.nsPerElem(), r.gbPerS(), r.checkRelErr(), Double.isFinite(r.copyGbPerS())
                                ? String.format(Locale.ROOT, " (device events; %.1f%% of a %.0f GB/s copy; %.4f ms wall per call with sync)",
                                        100 * r.gbPerS() / r.copyGbPerS(), r.copyGbPerS(), r.wallMs())
                                : "");
                json = r.toJson();
            } else {
                BlockBench.Result r = BlockBench.run(new BlockBench.Config(backend, integer(o, "batch", 2),
                        integer(o, "d-model", 96), integer(o, "d-state", 1), dbl(o, "ssm-ratio", 1.0), integer(o, "height", 56),
                        integer(o, "width", 56), threads, o.containsKey("vss"), warmup, reps, check, 42));
                out.printf(Locale.ROOT, "%s %s batch %d d_model %d d_state %d %dx%d on %s: median %.3f ms, %.3f ms/image, %.1f images/s, check %.2e%n",
                        r.block(), r.backend(), r.batch(), r.dModel(), r.dState(), r.height(), r.width(), r.device(),
                        r.medianMs(), r.msPerImage(), r.imagesPerS(), r.checkRelErr());
                json = r.toJson();
            }
            if (o.containsKey("json")) out.println(json);
            out.flush();
            return 0;
        } catch (IllegalArgumentException e) {
            err.println("ss2d bench " + args[0] + ": " + e.getMessage());
            return 2;
        } catch (IllegalStateException e) {
            err.println("ss2d bench " + args[0] + ": " + e.getMessage());
            return 1;
        }
    }

    private static Map<String, String> parse(List<String> args, Set<String> known) {
        Map<String, String> o = new HashMap<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (!a.startsWith("--")) throw new IllegalArgumentException("unexpected argument '" + a + "'");
            String k = a.substring(2), v = null;
            int eq = k.indexOf('=');
            if (eq >= 0) {
                v = k.substring(eq + 1);
                k = k.substring(0, eq);
            }
            if (!known.contains(k)) {
                throw new IllegalArgumentException("unknown option --" + k + "; valid: --" + String.join(", --", known.stream().sorted().toList()));
            }
            if (FLAGS.contains(k)) {
                o.put(k, "true");
                continue;
            }
            if (v == null) {
                if (i + 1 >= args.size()) throw new IllegalArgumentException("--" + k + " needs a value");
                v = args.get(++i);
            }
            o.put(k, v);
        }
        return o;
    }

    private static int integer(Map<String, String> o, String k, int dflt) {
        String v = o.get(k);
        if (v == null) return dflt;
        try {
            int n = Integer.parseInt(v);
            if (n < 0 || (n == 0 && !k.equals("threads") && !k.equals("check-batches") && !k.equals("warmup"))) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + k + ": expected a positive integer, found '" + v + "'");
        }
    }

    private static double dbl(Map<String, String> o, String k, double dflt) {
        String v = o.get(k);
        if (v == null) return dflt;
        try {
            double d = Double.parseDouble(v);
            if (!Double.isFinite(d) || d <= 0) throw new NumberFormatException();
            return d;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + k + ": expected a finite number > 0, found '" + v + "'");
        }
    }
}
