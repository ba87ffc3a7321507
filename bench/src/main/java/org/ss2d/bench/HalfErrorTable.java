package org.ss2d.bench;

import java.util.List;
import java.util.Locale;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.conformance.Tolerances;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.model.HalfWeights;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaRandomWeights;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.HalfRounding;
import org.ss2d.reference.SS2DRef;
import org.ss2d.reference.VMambaRef;
import org.ss2d.reference.VSSRef;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.HalfFloats;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * How far the CPU backend's half blocks and models are from float64, the numbers behind the half budgets of
 * conformance/TOLERANCES.md. For each case it prints the largest error relative to the largest expected magnitude
 * against (a) the reference that rounds where the backends store the dtype and (b) the unrounded float64 reference
 * (same rounded input and rounded weights, every activation kept in float64), each also in units of the dtype's unit
 * roundoff u; and how many output elements differ from the rounded reference's value rounded to the dtype ("flips":
 * the backend's float32 and the reference's float64 fell on either side of a rounding boundary somewhere upstream).
 *
 * Each row also gives the suite's budget for that output ({@code Tolerances.relative}, in u) and whether (a) is within it.
 * The backend is {@code cpu}, or the one named by {@code -Dss2d.half.backend} (e.g. cuda, with its jars on the class
 * path).
 *
 * <p>{@code HalfErrorTable blocks threads [sizes] [seeds]}: ss2d and vss at d_model 96, d_state 1, ssm_ratio 2 and 1,
 * batch 1 and 2, both dtypes. {@code HalfErrorTable models threads size seeds}: the tests' small VMamba configurations
 * at 37x30, and VMamba-T (s1l8, full width) at {@code size}x{@code size}.
 */
public final class HalfErrorTable {
    private HalfErrorTable() {}

    public static void main(String[] a) {
        String what = a.length > 0 ? a[0] : "blocks";
        int threads = a.length > 1 ? Integer.parseInt(a[1]) : 2;
        try (Backs.Handle h = Backs.open(System.getProperty("ss2d.half.backend", "cpu"), threads)) {
            Ss2d cpu = Ss2d.on(h.backend());
            System.out.println("backend " + h.backend().name());
            System.out.println("| op | dtype | d_model | ratio | x | seed | vs rounded ref | in u | vs unrounded ref | in u | flips | budget in u | within |");
            System.out.println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            if (what.equals("blocks")) {
                String[] sizes = (a.length > 2 ? a[2] : "14,28,56").split(",");
                int seeds = a.length > 3 ? Integer.parseInt(a[3]) : 3;
                for (String s : sizes) {
                    int hw = Integer.parseInt(s);
                    for (String op : new String[] {"ss2d", "vss"})
                        for (double ratio : new double[] {2.0, 1.0})
                            for (DType d : new DType[] {DType.BF16, DType.F16})
                                for (int seed = 0; seed < seeds; seed++) block(cpu, op, d, ratio, 1 + seed % 2, hw, seed);
                }
            } else {
                int size = a.length > 2 ? Integer.parseInt(a[2]) : 64;
                int seeds = a.length > 3 ? Integer.parseInt(a[3]) : 2;
                for (String name : new String[] {"vmamba_tiny_s1l8", "vanilla_vmamba_tiny", "vmamba_tiny_s2l5"})
                    for (DType d : new DType[] {DType.BF16, DType.F16})
                        for (int seed = 0; seed < seeds; seed++) model(cpu, name, true, d, 2, 37, 30, seed);
                if (size > 0) {
                    for (DType d : new DType[] {DType.BF16, DType.F16})
                        for (int seed = 0; seed < seeds; seed++) model(cpu, "vmamba_tiny_s1l8", false, d, 1, size, size, seed);
                }
            }
        }
    }

    private static void block(Ss2d cpu, String op, DType d, double ratio, int b, int hw, long seed) {
        int dm = 96;
        SS2DConfig cfg = SS2DConfig.of(dm, 1, ratio).withConvBias(true);
        TensorScope s = TensorScope.root("half-error");
        try {
            Tensor x = s.convert(RandomWeights.gaussian(s, 31L * dm + hw + 1000 * seed, 1.0, b, dm, hw, hw), d);
            Tensor out = s.allocate(d, b, dm, hw, hw).fill(Float.NaN);
            double[] rounded, plain;
            if (op.equals("ss2d")) {
                SS2DWeights wt = RandomWeights.ss2d(s, cfg, 3 + seed);
                cpu.ss2dInto(wt, x, out, d);
                rounded = SS2DRef.forward(SS2DRef.Params.of(wt), Doubles.of(x), b, hw, hw, d);
                plain = SS2DRef.forward(SS2DRef.Params.of(wt).in(d), Doubles.of(x), b, hw, hw, DType.F32);
            } else {
                VSSWeights wt = RandomWeights.vss(s, cfg, 4.0, 3 + seed);
                cpu.vssBlockInto(wt, x, out, d);
                rounded = VSSRef.forward(VSSRef.Params.of(wt), Doubles.of(x), b, hw, hw, d);
                plain = VSSRef.forward(VSSRef.Params.of(wt).in(d), Doubles.of(x), b, hw, hw, DType.F32);
            }
            row(op, d, dm, ratio, b + "x" + hw + "x" + hw, seed, out.toFloatArray(), rounded, plain,
                    Tolerances.relative(op.equals("ss2d") ? OpKind.SS2D : OpKind.VSS_BLOCK, d));
        } finally {
            s.release();
        }
    }

    private static void model(Ss2d cpu, String name, boolean small, DType d, int b, int h, int w, long seed) {
        VMambaConfig c = VMambaConfig.named(name);
        if (small) c = c.withDims(8, 16, 24, 32).withDepths(1, 2, 1, 1).withNumClasses(6);
        TensorScope s = TensorScope.root("half-error-model");
        try {
            VMambaWeights wt = VMambaRandomWeights.withOutNorms(s, VMambaRandomWeights.of(s, c, 5 + seed), 6 + seed);
            VMambaWeights wr = VMambaWeights.fromStateDict(HalfWeights.rounded(s, wt.params(), d));
            Tensor x = s.convert(RandomWeights.gaussian(s, 7 + seed, 1, b, 3, h, w), d);
            VMambaRef.Result rounded = VMambaRef.forward(wt, Doubles.of(x), b, h, w, d);
            VMambaRef.Result plain = VMambaRef.forward(wr, Doubles.of(x), b, h, w, DType.F32);
            try (VMambaModel m = cpu.vmamba(wt, d)) {
                Tensor out = s.allocate(d, b, c.numClasses()).fill(Float.NaN);
                m.logitsInto(x, out);
                String label = (small ? name + " (8,16,24,32; 1,2,1,1)" : name) + " logits";
                int[] depths = c.depths();
                row(label, d, 0, 0, b + "x" + h + "x" + w, seed, out.toFloatArray(), rounded.logits(), plain.logits(),
                        Tolerances.relative(OpKind.VMAMBA, d, Tolerances.Gemm.FLOAT32,
                                HalfRounding.blocksThrough(depths, depths.length - 1)));
                List<Tensor> f = m.features(s, x);
                for (int i = 0; i < f.size(); i++) {
                    row(name + " features." + i, d, 0, 0, b + "x" + h + "x" + w, seed, f.get(i).toFloatArray(),
                            rounded.features().get(i), plain.features().get(i), Tolerances.relative(OpKind.VMAMBA, d,
                                    Tolerances.Gemm.FLOAT32, HalfRounding.blocksThrough(depths, i)));
                }
            }
        } finally {
            s.release();
        }
    }

    private static void row(String op, DType d, int dm, double ratio, String x, long seed, float[] got, double[] rounded,
                            double[] plain, double budget) {
        double u = HalfFloats.unitRoundoff(d);
        double ea = Doubles.relativeError(got, rounded), eb = Doubles.relativeError(got, plain);
        int flips = 0;
        for (int i = 0; i < got.length; i++) {
            if (got[i] != HalfFloats.round(d, (float) rounded[i])) flips++;
        }
        System.out.printf(Locale.ROOT, "| %s | %s | %s | %s | %s | %d | %.2e | %.2f | %.2e | %.2f | %d of %d | %.2f | %s |%n",
                op, d.arrowName(), dm > 0 ? Integer.toString(dm) : "-", ratio > 0 ? Double.toString(ratio) : "-", x, seed,
                ea, ea / u, eb, eb / u, flips, got.length, budget / u, ea <= budget ? "yes" : "NO");
    }
}
