package org.ss2d.conformance.adversarial;

import static org.ss2d.conformance.adversarial.Corpus.Expect.COMPUTES;
import static org.ss2d.conformance.adversarial.Corpus.Expect.REJECTED;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.DoubleUnaryOperator;
import org.ss2d.conformance.adversarial.Corpus.Made;

/**
 * The value categories of the corpus (issue 18 items 1 and 3): NaN, infinities and huge values in every input of
 * every op kind, extreme but valid sizes, and small files that ask for absurd memory. Extreme values must compute:
 * within budget where the float64 answer is finite, NaN or infinite where it is not (the Tolerances rule); the
 * memory bombs must be rejected cleanly before anything is allocated.
 */
final class ValueCategories {
    private ValueCategories() {}

    private static final double NAN = Double.NaN, INF = Double.POSITIVE_INFINITY;

    /** A valid case of some kind with one class of extreme values put into one of its inputs. */
    static Made extremeValues(SplittableRandom r, int i) {
        String kind = ValidCases.KINDS.get(i % 5 < 3 ? 0 : i % ValidCases.KINDS.size()); // scans weigh most
        CaseSpec s = ValidCases.of(kind, r);
        return switch (kind) {
            case "selective_scan" -> scan(s, r, i);
            case "cross_scan", "cross_merge" -> {
                String col = kind.equals("cross_scan") ? "x" : "ys";
                double v = List.of(NAN, INF, -INF, 3e38, -3e38).get(r.nextInt(5));
                yield new Made(kind + ": " + v + " in " + col, COMPUTES, IpcForge.write(s.mapColumn(col, c -> spots(c, v, r))));
            }
            default -> block(s, r, kind);
        };
    }

    private static Made scan(CaseSpec s, SplittableRandom r, int i) {
        int which = (i / 5 * 3 + i % 5) % 10;
        boolean sp = s.metadata().get("ss2d.options").contains("\"delta_softplus\": true");
        String why;
        switch (which) {
            case 0, 1, 2, 3 -> {
                double v = List.of(NAN, INF, -INF, -3e38).get(which);
                s = s.mapColumn("A", c -> spots(c, v, r));
                why = v + " in A";
            }
            case 4, 5 -> {
                double v = which == 4 ? -INF : NAN;
                s = s.mapColumn("delta", c -> spots(c, v, r));
                why = v + " in delta" + (sp ? " (softplus)" : "");
            }
            case 6 -> {
                s = s.mapColumn("delta", c -> spots(c, 1e30, r)).mapColumn("u", c -> map(c, x -> x * 1e-10));
                why = "delta 1e30, u scaled by 1e-10";
            }
            case 7 -> {
                s = s.mapColumn("delta", c -> map(c, x -> 10)).mapColumn("A", ValueCategories::ladder);
                why = "delta 10, A = -(1..dstate)";
            }
            case 8 -> {
                s = s.mapColumn("u", c -> spots(c, 1e38, r));
                why = "u 1e38 in places";
            }
            default -> {
                List<String> cols = new ArrayList<>(List.of("u", "B", "C"));
                if (s.names().contains("D")) cols.add("D");
                if (s.names().contains("z")) cols.add("z");
                String col = cols.get(r.nextInt(cols.size()));
                double v = r.nextBoolean() ? NAN : (r.nextBoolean() ? INF : -INF);
                s = s.mapColumn(col, c -> spots(c, v, r));
                why = v + " in " + col;
            }
        }
        return new Made("selective_scan: " + why, COMPUTES, IpcForge.write(s));
    }

    private static Made block(CaseSpec s, SplittableRandom r, String kind) {
        String aLogs = s.names().stream().filter(n -> n.endsWith("A_logs")).findFirst().orElseThrow();
        String dtBias = s.names().stream().filter(n -> n.endsWith("dt_projs_bias")).findFirst().orElseThrow();
        return switch (r.nextInt(5)) {
            case 0 -> new Made(kind + ": NaN in x", COMPUTES, IpcForge.write(s.mapColumn("x", c -> spots(c, NAN, r))));
            case 1 -> new Made(kind + ": A_logs 100 (A = -inf)", COMPUTES,
                    IpcForge.write(s.mapColumn(aLogs, c -> spots(c, 100, r))));
            case 2 -> new Made(kind + ": A_logs 88.5 (A = -2.7e38)", COMPUTES,
                    IpcForge.write(s.mapColumn(aLogs, c -> spots(c, 88.5, r))));
            case 3 -> new Made(kind + ": dt_projs_bias -inf", COMPUTES,
                    IpcForge.write(s.mapColumn(dtBias, c -> spots(c, -INF, r))));
            default -> new Made(kind + ": dt_projs_bias 10", COMPUTES, IpcForge.write(s.mapColumn(dtBias, c -> map(c, x -> 10))));
        };
    }

    /** Valid cases at the edges of their sizes: one step, one channel, long rows, 1 x n and n x 1 grids, dstate 256. */
    static Made extremeSizes(SplittableRandom r, int i) {
        return switch (i % 4) {
            case 0 -> sizedScan(r, 1 + r.nextInt(2), 1, 1, r.nextInt(1, 17));
            case 1 -> sizedScan(r, 1, 2, r.nextInt(4000, 4200), r.nextInt(1, 5));
            case 2 -> sizedScan(r, 1, 16, r.nextInt(20, 40), 256);
            default -> {
                long[] x = r.nextBoolean() ? new long[] {1, 2, 1, r.nextInt(50, 200)} : new long[] {1, 2, r.nextInt(50, 200), 1};
                yield new Made("cross_scan " + x[2] + "x" + x[3], COMPUTES, IpcForge.write(CaseSpec.of("cross_scan", "{}",
                        List.of(Col.tensor("x", x, ValidCases.gauss(r, (int) ValidCases.count(x), 1.0))))));
            }
        };
    }

    private static Made sizedScan(SplittableRandom r, int batch, int dim, int seqlen, int dstate) {
        List<Col> cols = new ArrayList<>();
        int bdl = batch * dim * seqlen;
        cols.add(Col.tensor("u", new long[] {batch, dim, seqlen}, ValidCases.gauss(r, bdl, 1.0)));
        cols.add(Col.tensor("delta", new long[] {batch, dim, seqlen}, ValidCases.gauss(r, bdl, 0.5)));
        cols.add(Col.tensor("A", new long[] {dim, dstate}, ValidCases.uniform(r, dim * dstate, -2, -0.1)));
        long[] bc = {batch, 1, dstate, seqlen};
        cols.add(Col.tensor("B", bc, ValidCases.gauss(r, (int) ValidCases.count(bc), 1.0)));
        cols.add(Col.tensor("C", bc, ValidCases.gauss(r, (int) ValidCases.count(bc), 1.0)));
        return new Made("selective_scan batch " + batch + " dim " + dim + " seqlen " + seqlen + " dstate " + dstate, COMPUTES,
                IpcForge.write(CaseSpec.of("selective_scan", "{\"delta_softplus\": true, \"return_last_state\": true}", cols)));
    }

    /**
     * Small files that ask for absurd memory: a last_state of 256 GiB (batch 2^18, one channel, dstate 2^18, constant
     * B and C: ~4 MB of inputs), over every backend's budget; rejected before anything is allocated.
     */
    static Made allocationBombs(SplittableRandom r, int i) {
        int batch = 1 << 18, dstate = 1 << 18;
        List<Col> cols = new ArrayList<>();
        cols.add(Col.tensor("u", new long[] {batch, 1, 1}, ValidCases.gauss(r, batch, 1.0)));
        cols.add(Col.tensor("delta", new long[] {batch, 1, 1}, ValidCases.gauss(r, batch, 0.5)));
        cols.add(Col.tensor("A", new long[] {1, dstate}, ValidCases.uniform(r, dstate, -2, -0.1)));
        cols.add(Col.tensor("B", new long[] {1, dstate}, ValidCases.gauss(r, dstate, 1.0)));
        cols.add(Col.tensor("C", new long[] {1, dstate}, ValidCases.gauss(r, dstate, 1.0)));
        return new Made("selective_scan with a 256 GiB last_state", REJECTED, IpcForge.write(CaseSpec.of("selective_scan",
                "{\"delta_softplus\": true, \"return_last_state\": true}", cols)));
    }

    /** {@code v} into one to three random elements. */
    private static Col spots(Col c, double v, SplittableRandom r) {
        double[] x = c.values().clone();
        int n = 1 + r.nextInt(Math.min(3, x.length));
        for (int k = 0; k < n; k++) x[r.nextInt(x.length)] = v;
        return new Col(c.name(), c.shape(), c.listSize(), x, c.encoding(), c.dtype(), c.metadata(), c.nullRow());
    }

    private static Col map(Col c, DoubleUnaryOperator f) {
        double[] x = c.values().clone();
        for (int k = 0; k < x.length; k++) x[k] = f.applyAsDouble(x[k]);
        return new Col(c.name(), c.shape(), c.listSize(), x, c.encoding(), c.dtype(), c.metadata(), c.nullRow());
    }

    /** A (dim, dstate) as -(1..dstate) in every channel. */
    private static Col ladder(Col c) {
        double[] x = c.values().clone();
        long n = c.shape()[c.shape().length - 1];
        for (int k = 0; k < x.length; k++) x[k] = -(k % n + 1);
        return new Col(c.name(), c.shape(), c.listSize(), x, c.encoding(), c.dtype(), c.metadata(), c.nullRow());
    }
}
