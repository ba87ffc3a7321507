package org.ss2d.interop.cases;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanGrads;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/** The runners of the backward kinds: the forward's columns and options, plus the incoming gradients. */
public final class BackwardCalls {
    private BackwardCalls() {}

    /**
     * {@code selective_scan_backward}: the columns and options of {@code selective_scan}, plus {@code dout}
     * (batch, dim, seqlen) and the optional {@code dlast_state} (batch, dim, dstate); results {@code grad.<name>}
     * for every input column the forward has, each shaped as its input.
     */
    public record ScanBackward(ScanArgs args, Tensor dout, Tensor dLastState) implements OpCall {
        static ScanBackward of(CaseFile f) {
            ScanArgs a = OpCalls.Scan.of(f).args();
            return new ScanBackward(a, f.tensor("dout"), f.optional("dlast_state"));
        }

        @Override
        public OpKind kind() {
            return OpKind.SELECTIVE_SCAN_BACKWARD;
        }

        @Override
        public Map<String, Tensor> run(Ss2d ss, TensorScope scope) {
            Tensor[] g = ss.selectiveScanBackward(scope, args, dout, dLastState).tensors();
            Map<String, Tensor> m = new LinkedHashMap<>();
            for (int i = 0; i < g.length; i++) if (g[i] != null) m.put(ScanGrads.NAMES[i], g[i]);
            return m;
        }

        @Override
        public Map<String, long[]> outputShapes() {
            Tensor[] in = args.tensors();
            Map<String, long[]> m = new LinkedHashMap<>();
            for (int i = 0; i < in.length; i++) if (in[i] != null) m.put(ScanGrads.NAMES[i], in[i].shape());
            return m;
        }

        @Override
        public void runInto(Ss2d ss, Map<String, Tensor> outputs) {
            Tensor[] g = new Tensor[ScanGrads.NAMES.length];
            for (int i = 0; i < g.length; i++) g[i] = outputs.get(ScanGrads.NAMES[i]);
            ss.selectiveScanBackwardInto(args, dout, dLastState, ScanGrads.of(g));
        }
    }

    /**
     * {@code ss2d_backward} and {@code vss_block_backward}: the forward's columns and options plus {@code dout} (as x);
     * results {@code grad.x} and {@code grad.<name>} for every parameter column. The backward runs in float32 only so
     * far: a {@code dtype} option other than float32 is rejected by name, never run in float32 instead.
     */
    public record BlockBackward(OpKind kind, OpCall forward, Tensor dout) implements OpCall {
        static BlockBackward ss2d(CaseFile f) {
            ActivationDtype.float32Only(f.options(), OpKind.SS2D_BACKWARD);
            return new BlockBackward(OpKind.SS2D_BACKWARD, OpCalls.Ss2dBlock.of(f), f.tensor("dout"));
        }

        static BlockBackward vss(CaseFile f) {
            ActivationDtype.float32Only(f.options(), OpKind.VSS_BLOCK_BACKWARD);
            return new BlockBackward(OpKind.VSS_BLOCK_BACKWARD, OpCalls.VssBlock.of(f), f.tensor("dout"));
        }

        /** The block's input. */
        public Tensor x() {
            return forward instanceof OpCalls.Ss2dBlock b ? b.x() : ((OpCalls.VssBlock) forward).x();
        }

        private Map<String, Tensor> params() {
            return forward instanceof OpCalls.Ss2dBlock b ? b.weights().asMap() : ((OpCalls.VssBlock) forward).weights().asMap();
        }

        @Override
        public Map<String, Tensor> run(Ss2d ss, TensorScope scope) {
            return forward instanceof OpCalls.Ss2dBlock b ? ss.ss2dBackward(scope, b.weights(), b.x(), dout)
                    : ss.vssBlockBackward(scope, ((OpCalls.VssBlock) forward).weights(), x(), dout);
        }

        @Override
        public Map<String, long[]> outputShapes() {
            Map<String, long[]> m = new LinkedHashMap<>();
            m.put("grad.x", x().shape());
            for (var e : params().entrySet()) m.put("grad." + e.getKey(), e.getValue().shape());
            return m;
        }

        /** Runs into new outputs and copies them into the caller's (the facade has no into-variant for blocks). */
        @Override
        public void runInto(Ss2d ss, Map<String, Tensor> outputs) {
            try (TensorScope tmp = TensorScope.root("block backward")) {
                for (var e : run(ss, tmp).entrySet()) {
                    outputs.get(e.getKey()).copyFrom(e.getValue().toFloatArray());
                    e.getValue().close();
                }
            }
        }
    }
}
