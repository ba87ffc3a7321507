package org.ss2d.interop.cases;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.interop.image.ImagePreprocessor;
import org.ss2d.interop.image.Interpolation;
import org.ss2d.interop.image.RgbImage;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.spi.Backend;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/** The runners of the whole-model kinds: {@code vmamba} and {@code preprocess_image}. */
public final class ModelCalls {
    private ModelCalls() {}

    /** Column roots of VMamba's classification state dict (and the legacy roots its loader renames). */
    private static final List<String> PARAMETER_ROOTS = List.of("patch_embed.", "layers.", "classifier.", "outnorm",
            "pos_embed", "norm.", "head.");

    /**
     * {@code vmamba}: {@code x (batch, 3, H, W)} and the parameters under VMamba's state-dict names; the
     * configuration is inferred from the shapes and every option given ({@code variant} or the explicit
     * fields) must agree with it; {@code features_only} returns the four stage maps. {@code dtype} is the
     * activations' ({@link ActivationDtype}): x, the logits and the features in it; the model converts its
     * weights once, when it is built.
     */
    public static final class VMamba implements OpCall {
        private final VMambaWeights weights;
        private final Tensor x;
        private final boolean featuresOnly;
        private final DType dtype;
        private volatile Backend ran;   // a model picks its own backend (Ss2d.lastBackend is the ops')

        VMamba(VMambaWeights weights, Tensor x, boolean featuresOnly, DType dtype) {
            this.weights = weights;
            this.x = x;
            this.featuresOnly = featuresOnly;
            this.dtype = dtype;
        }

        public VMambaWeights weights() {
            return weights;
        }

        public Tensor x() {
            return x;
        }

        public boolean featuresOnly() {
            return featuresOnly;
        }

        /** The activations' dtype (the {@code dtype} option). */
        public DType dtype() {
            return dtype;
        }

        static VMamba of(CaseFile f) {
            CaseOptions o = f.options();
            DType t = ActivationDtype.of(o);
            List<String> names = f.columns().stream().filter(c -> PARAMETER_ROOTS.stream().anyMatch(c::startsWith)).toList();
            VMambaWeights w = VMambaWeights.fromStateDict(ActivationDtype.weights(f, names, t));
            boolean featuresOnly = o.bool("features_only", false);
            checkOptions(o, w.config(), featuresOnly);
            return new VMamba(w, ActivationDtype.input(f, "x", t), featuresOnly, t);
        }

        @Override
        public OpKind kind() {
            return OpKind.VMAMBA;
        }

        @Override
        public Map<String, Tensor> run(Ss2d ss, TensorScope scope) {
            try (VMambaModel m = VMambaModel.of(ss, weights, dtype)) {
                ran = m.backend();
                Map<String, Tensor> out = new LinkedHashMap<>();
                if (featuresOnly) {
                    List<Tensor> fs = m.features(scope, x);
                    for (int i = 0; i < fs.size(); i++) out.put("features." + i, fs.get(i));
                } else {
                    out.put("logits", m.logits(scope, x));
                }
                return out;
            }
        }

        @Override
        public Map<String, long[]> outputShapes() {
            VMambaConfig c = weights.config();
            Map<String, long[]> m = new LinkedHashMap<>();
            if (featuresOnly) {
                int[][] g = c.grids(x.dim(2), x.dim(3));
                for (int i = 0; i < VMambaConfig.STAGES; i++) {
                    m.put("features." + i, new long[] {x.dim(0), c.dim(i), g[i][0], g[i][1]});
                }
            } else {
                m.put("logits", new long[] {x.dim(0), c.numClasses()});
            }
            return m;
        }

        @Override
        public DType outputDtype(String name) {
            return dtype;
        }

        @Override
        public void runInto(Ss2d ss, Map<String, Tensor> outputs) {
            try (VMambaModel m = VMambaModel.of(ss, weights, dtype)) {
                ran = m.backend();
                if (featuresOnly) {
                    List<Tensor> outs = new ArrayList<>();
                    for (int i = 0; i < VMambaConfig.STAGES; i++) outs.add(outputs.get("features." + i));
                    m.featuresInto(x, outs);
                } else {
                    m.logitsInto(x, outputs.get("logits"));
                }
            }
        }

        @Override
        public Backend ranOn(Ss2d ss) {
            return ran;
        }
    }

    /**
     * Each option the file gives must agree with the configuration its parameters' shapes describe
     * (also used by {@code ss2d classify} for {@code --model}).
     */
    public static void checkOptions(CaseOptions o, VMambaConfig inferred, boolean featuresOnly) {
        String variant = o.text("variant");
        if (variant != null) {
            VMambaConfig v = VMambaConfig.named(variant);
            if (!sameArchitecture(v, inferred, featuresOnly)) {
                throw new Ss2dArgumentException("options.variant", "parameters of " + v.name() + " (" + v + ")",
                        "parameters of " + inferred, null);
            }
        }
        if (o.has("dims")) {
            int[] dims = ints(o, "dims");
            int[] want = dims.length == 1 ? VMambaConfig.widths(dims[0]) : dims;
            agree("dims", Arrays.toString(want), Arrays.toString(inferred.dims()));
        }
        if (o.has("depths")) agree("depths", Arrays.toString(ints(o, "depths")), Arrays.toString(inferred.depths()));
        if (o.has("d_state")) agree("d_state", "" + o.integer("d_state"), "" + inferred.dState());
        if (o.has("ssm_ratio")) {
            double r = o.number("ssm_ratio");
            for (int i = 0; i < VMambaConfig.STAGES; i++) {
                agree("ssm_ratio", "d_inner " + (int) (r * inferred.dim(i)) + " in stage " + i,
                        "d_inner " + inferred.ss2d(i).dInner() + " in stage " + i);
            }
        }
        if (o.has("mlp_ratio")) {
            double r = o.number("mlp_ratio");
            agree("mlp_ratio", "an MLP of " + (int) (r * inferred.dim(0)) + " in stage 0",
                    "an MLP of " + (inferred.hasMlp() ? inferred.mlpHidden(0) : 0) + " in stage 0");
        }
        if (o.has("forward_type")) agree("forward_type", o.text("forward_type"), inferred.forwardType().label());
        if (o.has("patch_embed")) agree("patch_embed", o.text("patch_embed"), inferred.patchEmbed().name().toLowerCase(Locale.ROOT));
        if (o.has("downsample")) agree("downsample", o.text("downsample"), inferred.downsample().name().toLowerCase(Locale.ROOT));
        if (o.has("num_classes") && !featuresOnly) agree("num_classes", "" + o.integer("num_classes"), "" + inferred.numClasses());
        if (!featuresOnly && inferred.numClasses() == 0) {
            throw new Ss2dArgumentException("classifier.head.weight", "a classifier (or options.features_only = true)",
                    "a backbone without classifier.* parameters", null);
        }
    }

    private static boolean sameArchitecture(VMambaConfig a, VMambaConfig b, boolean featuresOnly) {
        VMambaConfig x = a.withNumClasses(featuresOnly ? 0 : a.numClasses());
        VMambaConfig y = b.withNumClasses(featuresOnly ? 0 : b.numClasses());
        return Arrays.equals(x.dims(), y.dims()) && Arrays.equals(x.depths(), y.depths()) && x.dState() == y.dState()
                && x.ss2d(0).dInner() == y.ss2d(0).dInner() && x.mlpRatio() == y.mlpRatio()
                && x.forwardType() == y.forwardType() && x.patchEmbed() == y.patchEmbed()
                && x.downsample() == y.downsample() && x.numClasses() == y.numClasses() && x.convBias() == y.convBias();
    }

    private static void agree(String option, String given, String found) {
        if (!given.equalsIgnoreCase(found)) {
            throw new Ss2dArgumentException("options." + option, given + " (as the option says)",
                    found + " (from the parameters' shapes)", null);
        }
    }

    private static int[] ints(CaseOptions o, String key) {
        Double single = null;
        try {
            single = o.number(key);
        } catch (Ss2dArgumentException notANumber) {
            // a list, read below
        }
        if (single != null) return new int[] {single.intValue()};
        String text = o.text(key);
        try {
            return Arrays.stream(text.replaceAll("[\\[\\]\\s]", "").split(",")).mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new Ss2dArgumentException("options." + key, "an integer or a list of integers", CaseOptions.abbreviate(text), null);
        }
    }

    /**
     * {@code preprocess_image}: {@code image (H, W, 3) uint8} RGB to {@code x (1, 3, crop, crop)} float32,
     * VMamba's evaluation transform ({@link ImagePreprocessor}); runs on the host, on no backend.
     */
    public record PreprocessImage(RgbImage image, ImagePreprocessor transform) implements OpCall {
        static PreprocessImage of(CaseFile f) {
            long[] s = f.shape("image");
            if (s.length != 3 || s[2] != 3 || s[0] < 1 || s[1] < 1 || s[0] * s[1] > Integer.MAX_VALUE / 3) {
                throw new Ss2dArgumentException("image", "(H, W, 3) RGB", org.ss2d.tensor.Shapes.format(s), null);
            }
            byte[] rgb = f.uint8("image");
            CaseOptions o = f.options();
            ImagePreprocessor d = ImagePreprocessor.imagenet();
            ImagePreprocessor t = new ImagePreprocessor(
                    o.has("resize") ? Math.toIntExact(o.integer("resize")) : d.resize(),
                    o.has("crop") ? Math.toIntExact(o.integer("crop")) : d.crop(),
                    o.has("interpolation") ? Interpolation.of(o.text("interpolation")) : d.interpolation(),
                    o.has("mean") ? triple(o, "mean") : d.mean(), o.has("std") ? triple(o, "std") : d.std());
            return new PreprocessImage(new RgbImage((int) s[1], (int) s[0], rgb), t);
        }

        @Override
        public OpKind kind() {
            return OpKind.PREPROCESS_IMAGE;
        }

        @Override
        public Map<String, Tensor> run(Ss2d ss, TensorScope scope) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            m.put("x", transform.tensor(scope, List.of(image)));
            return m;
        }

        @Override
        public Map<String, long[]> outputShapes() {
            Map<String, long[]> m = new LinkedHashMap<>();
            m.put("x", new long[] {1, 3, transform.crop(), transform.crop()});
            return m;
        }

        @Override
        public void runInto(Ss2d ss, Map<String, Tensor> outputs) {
            Tensor x = outputs.get("x");
            if (x == null || x.dtype() != DType.F32 || !Arrays.equals(x.shape(), outputShapes().get("x"))) {
                throw new Ss2dArgumentException("x", "a float32 tensor " + org.ss2d.tensor.Shapes.format(outputShapes().get("x")),
                        x == null ? "none" : x.describe(), null);
            }
            x.copyFrom(transform.apply(image));
        }

        @Override
        public Backend ranOn(Ss2d ss) {
            return null;
        }

        private static float[] triple(CaseOptions o, String key) {
            String text = o.text(key);
            try {
                String[] parts = text.replaceAll("[\\[\\]\\s]", "").split(",");
                float[] v = new float[parts.length];
                // Through double, as torchvision turns Python floats into a float32 tensor.
                for (int i = 0; i < v.length; i++) v[i] = (float) Double.parseDouble(parts[i]);
                return v;
            } catch (NumberFormatException e) {
                throw new Ss2dArgumentException("options." + key, "a list of 3 numbers", CaseOptions.abbreviate(text), null);
            }
        }
    }
}
