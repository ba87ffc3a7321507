package org.ss2d.conformance.cases;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.ops.BCMode;
import org.ss2d.ops.ScanArgs;
import org.ss2d.reference.ScanRef;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/** A selective scan with every option of {@code selective_scan_fn}, inputs drawn from {@code seed}. */
public record ScanCase(int batch, int dim, int seqlen, int dstate, int groups, BCMode bMode, BCMode cMode,
                       boolean withD, boolean withZ, boolean withBias, boolean softplus, boolean lastState,
                       Inputs inputs, long seed) implements ConformanceCase {

    /** How deltas and A are drawn. */
    public enum Inputs {
        /** softplus: delta in [-4, 1), bias N(0, 0.5); else delta in [0.01, 0.5), bias in [0, 0.2); A in [-2, -0.1). */
        NORMAL,
        /** delta just under, at and over softplus's threshold 20 (with and without bias); small |A|. */
        SOFTPLUS_EDGE,
        /** delta in [30, 120) and A in [-5, -1): exp(delta A) underflows in float32. */
        UNDERFLOW,
        // Extreme values (issue 18): NORMAL inputs with some elements replaced, in the first step of one channel and
        // mid-row of others, so that a kernel's switch to another path inside a row is exercised too.
        /** A NaN in A: the channels it touches are NaN from the start. */
        NAN_A,
        /** +inf in A: exp(dt A) = inf, the state and out become infinite or NaN. */
        POS_INF_A,
        /** -inf in A: exp(dt A) = 0 for dt > 0, a finite answer. */
        NEG_INF_A,
        /** A = -3e38 (finite, but dt A overflows float32 to -inf): exp(dt A) = 0, a finite answer. */
        HUGE_NEG_A,
        /** delta = -inf: softplus(-inf) = 0, so dt = 0 and the answer is finite (without softplus: not). */
        NEG_INF_DELTA,
        /** NaN in delta: NaN from there on in that channel. */
        NAN_DELTA,
        /** delta = 1e30 with u scaled by 1e-10: dt u stays moderate, exp(dt A) = 0. */
        HUGE_DELTA,
        /** delta = 10 and A = -(1..dstate) per channel: dt A far below -126 for most states, ordinary otherwise. */
        LARGE_STEP,
        /** Some u = +-1e38: dt u B overflows float32 mid-recurrence while the float64 state does not. */
        HUGE_U,
        /** NaN and infinities in u, B, C and D. */
        NONFINITE_UBCD
    }

    /** Whether the inputs hold values no real model produces (the extreme-value classes). */
    public boolean extreme() {
        return inputs.ordinal() > Inputs.UNDERFLOW.ordinal();
    }

    public ScanCase {
        if (dim % groups != 0) throw new IllegalArgumentException("catalog bug: groups " + groups + " vs dim " + dim);
    }

    @Override
    public String id() {
        return "selective_scan b" + batch + " d" + dim + " L" + seqlen + " N" + dstate + " G" + groups
                + " B=" + mode(bMode) + " C=" + mode(cMode) + (withD ? " +D" : "") + (withZ ? " +z" : "")
                + (withBias ? " +delta_bias" : "") + (softplus ? " +softplus" : "") + (lastState ? " +last_state" : "")
                + (inputs == Inputs.NORMAL ? "" : " " + inputs.name().toLowerCase(java.util.Locale.ROOT)) + " seed" + seed;
    }

    private static String mode(BCMode m) {
        return m.name().toLowerCase(java.util.Locale.ROOT);
    }

    @Override
    public OpKind op() {
        return OpKind.SELECTIVE_SCAN;
    }

    @Override
    public DType dtype() {
        return DType.F32;
    }

    @Override
    public String shape() {
        return "u(" + batch + ", " + dim + ", " + seqlen + ") N=" + dstate + " G=" + groups;
    }

    public long[] bcShape(BCMode m) {
        return switch (m) {
            case CONSTANT -> new long[] {dim, dstate};
            case VARIABLE -> new long[] {batch, dstate, seqlen};
            case GROUPED -> new long[] {batch, groups, dstate, seqlen};
        };
    }

    /**
     * {@code value} into a few elements of a (batch, dim, seqlen) tensor: step 0 of channel 0, the middle step of
     * the middle channel and the last steps of the last channel of the last batch (alternating signs for a
     * finite value).
     */
    private void spots(float[] x, float value) {
        int mid = (batch - 1) * dim * seqlen + (dim / 2) * seqlen + seqlen / 2;
        int last = batch * dim * seqlen - 1;
        x[0] = value;
        x[mid] = value;
        x[last] = Float.isFinite(value) ? -value : value;
        if (seqlen > 2) x[last - 2] = value;
    }

    /** Each value rounded to {@code dtype} in place (the values a tensor of that dtype holds). */
    private static void round(DType dtype, float[]... arrays) {
        if (dtype == DType.F32) return;
        for (float[] x : arrays) {
            if (x == null) continue;
            for (int i = 0; i < x.length; i++) x[i] = org.ss2d.tensor.HalfFloats.round(dtype, x[i]);
        }
    }

    private static int count(long[] s) {
        long n = 1;
        for (long x : s) n *= x;
        return Math.toIntExact(n);
    }

    @Override
    public Prepared prepare(TensorScope arena) {
        return prepare(arena, DType.F32, false);
    }

    /**
     * The case with its activations (u, delta, z, variable B/C) in {@code dtype}: drawn as for float32, then
     * rounded to it, and the float64 reference run on the rounded values; {@code out} comes back in
     * {@code dtype}, or float32 with {@code outFloat32}.
     */
    Prepared prepare(TensorScope arena, DType dtype, boolean outFloat32) {
        Draw r = new Draw(seed);
        int bdl = batch * dim * seqlen;
        float[] u = r.gauss(bdl, 1.0);
        float[] delta;
        float[] a;
        float[] bias = null;
        switch (inputs) {
            case NORMAL -> {
                delta = softplus ? r.uniform(bdl, -4, 1) : r.uniform(bdl, 0.01, 0.5);
                a = r.uniform(dim * dstate, -2, -0.1);
                // Without softplus the step is delta + bias as given: keep it positive, as a real model's is,
                // or exp(delta A) > 1 grows the state past float32's range and no backend can match float64.
                if (withBias) bias = softplus ? r.gauss(dim, 0.5) : r.uniform(dim, 0, 0.2);
            }
            case SOFTPLUS_EDGE -> {
                float[] edge = {19.0f, 19.5f, 19.999f, 20.0f, 20.001f, 20.5f, 21f, 30f, -30f, 0f};
                delta = new float[bdl];
                for (int i = 0; i < bdl; i++) delta[i] = edge[i % edge.length];
                a = r.uniform(dim * dstate, -0.2, -0.01);
                if (withBias) {
                    float[] shifts = {0f, 0.5f, -0.5f, 0.001f}; // 19.5 + 0.5 is exactly 20 in float32
                    bias = new float[dim];
                    for (int d = 0; d < dim; d++) bias[d] = shifts[d % shifts.length];
                }
            }
            case UNDERFLOW -> {
                delta = r.uniform(bdl, 30, 120);
                a = r.uniform(dim * dstate, -5, -1);
                if (withBias) bias = r.gauss(dim, 0.5);
            }
            default -> {
                delta = softplus ? r.uniform(bdl, -4, 1) : r.uniform(bdl, 0.01, 0.5);
                a = r.uniform(dim * dstate, -2, -0.1);
                if (withBias) bias = softplus ? r.gauss(dim, 0.5) : r.uniform(dim, 0, 0.2);
            }
        }
        float[] b = r.gauss(count(bcShape(bMode)), 1.0);
        float[] c = r.gauss(count(bcShape(cMode)), 1.0);
        float[] d = withD ? r.gauss(dim, 1.0) : null;
        float[] z = withZ ? r.gauss(bdl, 1.0) : null;
        switch (inputs) {
            case NAN_A -> a[dstate * (dim / 2)] = Float.NaN;
            case POS_INF_A -> a[dstate * (dim - 1) + dstate / 2] = Float.POSITIVE_INFINITY;
            case NEG_INF_A -> {
                for (int ch = 0; ch < dim; ch += 3) a[dstate * ch + (ch % dstate)] = Float.NEGATIVE_INFINITY;
            }
            case HUGE_NEG_A -> {
                for (int ch = 1; ch < dim; ch += 2) a[dstate * ch] = -3e38f;
            }
            case NEG_INF_DELTA -> spots(delta, Float.NEGATIVE_INFINITY);
            case NAN_DELTA -> spots(delta, Float.NaN);
            case HUGE_DELTA -> {
                spots(delta, 1e30f);
                for (int i = 0; i < bdl; i++) u[i] *= 1e-10f;
            }
            case LARGE_STEP -> {
                java.util.Arrays.fill(delta, 10f);
                for (int i = 0; i < dim * dstate; i++) a[i] = -(i % dstate + 1);
            }
            case HUGE_U -> spots(u, 1e38f);
            case NONFINITE_UBCD -> {
                spots(u, Float.POSITIVE_INFINITY);
                b[b.length / 3] = Float.NaN;
                c[c.length / 2] = Float.NEGATIVE_INFINITY;
                if (d != null) d[dim - 1] = Float.NaN;
            }
            default -> { }
        }
        float[] biasF = bias;
        DType bType = bMode == BCMode.CONSTANT ? DType.F32 : dtype, cType = cMode == BCMode.CONSTANT ? DType.F32 : dtype;
        round(dtype, u, delta, z);
        round(bType, b);
        round(cType, c);

        Tensor tu = arena.fromArray("u", dtype, u, batch, dim, seqlen);
        Tensor td = arena.fromArray("delta", dtype, delta, batch, dim, seqlen);
        Tensor ta = arena.fromArray("A", a, dim, dstate);
        Tensor tb = arena.fromArray("B", bType, b, bcShape(bMode));
        Tensor tc = arena.fromArray("C", cType, c, bcShape(cMode));
        ScanArgs.Builder args = ScanArgs.builder(tu, td, ta, tb, tc).deltaSoftplus(softplus).returnLastState(lastState)
                .outFloat32(outFloat32);
        if (d != null) args.D(arena.fromArray("D", d, dim));
        if (z != null) args.z(arena.fromArray("z", dtype, z, batch, dim, seqlen));
        if (biasF != null) args.deltaBias(arena.fromArray("delta_bias", biasF, dim));
        ScanArgs built = args.build();

        return new Prepared() {
            @Override
            public Map<String, Expected> expected() {
                ScanRef.Result res = ScanRef.run(new ScanRef.Problem(batch, dim, seqlen, dstate, groups, bMode, cMode,
                        Draw.widen(u), Draw.widen(delta), Draw.widen(a), Draw.widen(b), Draw.widen(c), Draw.widen(d),
                        Draw.widen(z), Draw.widen(biasF), softplus));
                Map<String, Expected> m = new LinkedHashMap<>();
                m.put("out", new Expected(res.out(), OpKind.SELECTIVE_SCAN, built.outDtype()));
                if (lastState) m.put("last_state", new Expected(res.lastState(), OpKind.SELECTIVE_SCAN));
                return m;
            }

            @Override
            public Map<String, float[]> run(Ss2d ss) {
                return Runs.scan(ss, arena, built);
            }
        };
    }
}
