package org.ss2d.interop.cases;

import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/** The runner of each {@link OpKind}: which columns and options it reads, and which facade call it makes. */
public final class OpCalls {
    private OpCalls() {}

    /**
     * {@code selective_scan}: u, delta, A, B, C; optional D, z, delta_bias; delta_softplus, return_last_state,
     * out_float32 (half inputs: out in float32 instead of the input dtype).
     */
    public record Scan(ScanArgs args) implements OpCall {
        static Scan of(CaseFile f) {
            CaseOptions o = f.options();
            return new Scan(ScanArgs.builder(f.tensor("u"), f.tensor("delta"), f.tensor("A"), f.tensor("B"), f.tensor("C"))
                    .D(f.optional("D")).z(f.optional("z")).deltaBias(f.optional("delta_bias"))
                    .deltaSoftplus(o.bool("delta_softplus", false))
                    .returnLastState(o.bool("return_last_state", false))
                    .outFloat32(o.bool("out_float32", false)).build());
        }

        @Override
        public OpKind kind() {
            return OpKind.SELECTIVE_SCAN;
        }

        @Override
        public Map<String, Tensor> run(Ss2d ss, TensorScope scope) {
            ScanArgs.Result r = ss.selectiveScan(scope, args);
            Map<String, Tensor> m = OpCall.out(r.out());
            if (r.lastState() != null) m.put("last_state", r.lastState());
            return m;
        }

        @Override
        public Map<String, long[]> outputShapes() {
            Tensor u = args.u();
            Map<String, long[]> m = OpCall.out(new long[] {u.dim(0), u.dim(1), u.dim(2)});
            if (args.returnLastState()) m.put("last_state", new long[] {u.dim(0), u.dim(1), args.A().dim(1)});
            return m;
        }

        @Override
        public org.ss2d.tensor.DType outputDtype(String name) {
            return name.equals("out") ? args.outDtype() : org.ss2d.tensor.DType.F32;
        }

        @Override
        public void runInto(Ss2d ss, Map<String, Tensor> outputs) {
            ss.selectiveScanInto(args, outputs.get("out"), outputs.get("last_state"));
        }
    }

    /** {@code cross_scan}: x (batch, C, H, W). */
    public record CrossScan(Tensor x) implements OpCall {
        static CrossScan of(CaseFile f) {
            return new CrossScan(f.tensor("x"));
        }

        @Override
        public OpKind kind() {
            return OpKind.CROSS_SCAN;
        }

        @Override
        public Map<String, Tensor> run(Ss2d ss, TensorScope scope) {
            return OpCall.out(ss.crossScan(scope, x));
        }

        @Override
        public Map<String, long[]> outputShapes() {
            return OpCall.out(new long[] {x.dim(0), SS2DConfig.ROUTES, x.dim(1), x.dim(2) * x.dim(3)});
        }

        @Override
        public void runInto(Ss2d ss, Map<String, Tensor> outputs) {
            ss.crossScanInto(x, outputs.get("out"));
        }
    }

    /** {@code cross_merge}: ys (batch, 4, C, H*W) and the options H, W (required). */
    public record CrossMerge(Tensor ys, long h, long w) implements OpCall {
        static CrossMerge of(CaseFile f) {
            CaseOptions o = f.options();
            Tensor ys = f.tensor("ys");
            return new CrossMerge(ys, required(o, "H", "the grid height"), required(o, "W", "the grid width"));
        }

        @Override
        public OpKind kind() {
            return OpKind.CROSS_MERGE;
        }

        @Override
        public Map<String, Tensor> run(Ss2d ss, TensorScope scope) {
            return OpCall.out(ss.crossMerge(scope, ys, h, w));
        }

        @Override
        public Map<String, long[]> outputShapes() {
            return OpCall.out(new long[] {ys.dim(0), ys.dim(2), h, w});
        }

        @Override
        public void runInto(Ss2d ss, Map<String, Tensor> outputs) {
            ss.crossMergeInto(ys, outputs.get("out"));
        }

        private static long required(CaseOptions o, String key, String what) {
            Long v = o.integer(key);
            if (v == null) {
                throw new Ss2dArgumentException("options." + key, "an integer, " + what + " (cross_merge needs H and W)",
                        "nothing", null);
            }
            return v;
        }
    }

    /**
     * {@code ss2d}: x (batch, d_model, H, W) and the SS2D parameters under VMamba's state-dict names; {@code dtype}
     * (the activations': x and out in it, see {@link ActivationDtype}).
     */
    public record Ss2dBlock(SS2DWeights weights, Tensor x, DType dtype) implements OpCall {
        public Ss2dBlock(SS2DWeights weights, Tensor x) {
            this(weights, x, DType.F32);
        }

        static Ss2dBlock of(CaseFile f) {
            CaseOptions o = f.options();
            DType t = ActivationDtype.of(o);
            SS2DConfig c = BlockConfigs.ss2d(f, "", o);
            Map<String, Tensor> dict = ActivationDtype.weights(f, SS2DWeights.expectedShapes(c).keySet(), t);
            return new Ss2dBlock(SS2DWeights.fromStateDict(c, dict, ""), ActivationDtype.input(f, "x", t), t);
        }

        @Override
        public OpKind kind() {
            return OpKind.SS2D;
        }

        @Override
        public Map<String, Tensor> run(Ss2d ss, TensorScope scope) {
            return OpCall.out(ss.ss2d(scope, weights, x, dtype));
        }

        @Override
        public Map<String, long[]> outputShapes() {
            return OpCall.out(x.shape());
        }

        @Override
        public DType outputDtype(String name) {
            return dtype;
        }

        @Override
        public void runInto(Ss2d ss, Map<String, Tensor> outputs) {
            ss.ss2dInto(weights, x, outputs.get("out"), dtype);
        }
    }

    /**
     * {@code vss_block}: x, and {@code norm.*}, {@code op.*}, {@code norm2.*}, {@code mlp.*} parameters; {@code dtype}
     * as {@link Ss2dBlock}.
     */
    public record VssBlock(VSSWeights weights, Tensor x, DType dtype) implements OpCall {
        public VssBlock(VSSWeights weights, Tensor x) {
            this(weights, x, DType.F32);
        }

        static VssBlock of(CaseFile f) {
            CaseOptions o = f.options();
            DType t = ActivationDtype.of(o);
            SS2DConfig c = BlockConfigs.ss2d(f, VSSWeights.OP, o);
            double mlpRatio = BlockConfigs.mlpRatio(f, c.dModel(), o);
            Map<String, Tensor> dict = ActivationDtype.weights(f, VSSWeights.expectedShapes(c, mlpRatio).keySet(), t);
            return new VssBlock(VSSWeights.fromStateDict(c, mlpRatio, dict, ""), ActivationDtype.input(f, "x", t), t);
        }

        @Override
        public OpKind kind() {
            return OpKind.VSS_BLOCK;
        }

        @Override
        public Map<String, Tensor> run(Ss2d ss, TensorScope scope) {
            return OpCall.out(ss.vssBlock(scope, weights, x, dtype));
        }

        @Override
        public Map<String, long[]> outputShapes() {
            return OpCall.out(x.shape());
        }

        @Override
        public DType outputDtype(String name) {
            return dtype;
        }

        @Override
        public void runInto(Ss2d ss, Map<String, Tensor> outputs) {
            ss.vssBlockInto(weights, x, outputs.get("out"), dtype);
        }
    }
}
