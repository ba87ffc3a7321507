package org.ss2d.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.interop.cases.CaseFile;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.ReferenceProvider;
import org.ss2d.reference.VMambaRef;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.LimitExceededException;

/**
 * The golden vectors of {@code vmamba-golden/}, made by VMamba's own model code (fp32, random weights):
 * the configuration inferred from the state dict agrees with the file's options, the float64
 * {@link VMambaRef} is within {@link #VS_VMAMBA} of VMamba's output, and every backend that runs models
 * is within {@link Tolerances#VMAMBA_F32} of the float64 result.
 */
class VMambaGoldenTest {
    /** Reference vs VMamba's fp32 output, relative to the tensor's max |value| (VMamba has no fp64 path). */
    static final double VS_VMAMBA = 1e-5;
    static final Path DIR = Path.of("vmamba-golden");

    static List<Path> files() throws IOException {
        if (!Files.isDirectory(DIR)) return List.of();
        try (Stream<Path> s = Files.list(DIR)) {
            return s.filter(p -> p.toString().endsWith(".arrow")).sorted().toList();
        }
    }

    @TestFactory
    Stream<DynamicTest> vmambasOwnOutputs() throws IOException {
        List<Path> files = files();
        assertFalse(files.isEmpty(), "no golden files in " + DIR.toAbsolutePath());
        List<DynamicTest> tests = new ArrayList<>();
        for (Path f : files) {
            tests.add(DynamicTest.dynamicTest("[reference] vmamba golden " + f.getFileName(), () -> check(f, null)));
            for (String b : Targets.names()) {
                if (b.equals(ReferenceProvider.NAME)) continue;
                tests.add(DynamicTest.dynamicTest("[" + b + "] vmamba golden " + f.getFileName(), () -> check(f, b)));
            }
        }
        return tests.stream();
    }

    static void check(Path file, String backend) {
        if (backend != null) {
            String why = Targets.unavailable(backend);
            if (why != null) {
                if (backend.equals(Targets.required())) throw new AssertionError(backend + " required but unavailable: " + why);
                Assumptions.assumeTrue(false, backend + " unavailable: " + why);
            }
        }
        try (TensorScope scope = TensorScope.root("vmamba-golden"); CaseFile cf = CaseFile.open(scope, file)) {
            assertEquals("vmamba", cf.kind());
            Map<String, Tensor> dict = new LinkedHashMap<>();
            List<String> outputs = new ArrayList<>();
            for (String c : cf.columns()) {
                if (c.equals("logits") || c.startsWith("features.")) outputs.add(c);
                else if (!c.equals("x")) dict.put(c, cf.tensor(c));
            }
            VMambaWeights w = VMambaWeights.fromStateDict(dict);
            agrees(file, w.config(), cf.options().asStrings(), cf.options());
            Tensor x = cf.tensor("x");
            int b = (int) x.dim(0), h = (int) x.dim(2), wd = (int) x.dim(3);
            VMambaRef.Result ref = VMambaRef.forward(w, Doubles.of(x), b, h, wd);
            for (String o : outputs) {
                double[] r = o.equals("logits") ? ref.logits() : ref.features().get(o.charAt(o.length() - 1) - '0');
                if (backend == null) {
                    Comparison c = Tolerances.compare(cf.doubles(o), r, VS_VMAMBA);
                    System.err.printf(Locale.ROOT, "[ss2d] vmamba golden %s %s: reference vs VMamba rel %.2e%n",
                            file.getFileName(), o, c.maxRelErr());
                    assertTrue(c.pass(), "[reference] " + file.getFileName() + " " + o + " vs VMamba's fp32: " + c.detail());
                }
            }
            if (backend == null) return;
            VMambaModel m;
            try {
                m = Ss2d.on(backend).vmamba(w);
            } catch (LimitExceededException e) {
                // a backend without whole-model support is skipped with that reason, unless it is the required one
                // (every backend of this project runs whole models: cpu, reference and, since issue 12, cuda)
                if (backend.equals(Targets.required())) throw e;
                System.err.println("[ss2d] vmamba SKIPPED on " + backend + ": " + e.getMessage());
                Assumptions.assumeTrue(false, backend + ": " + e.getMessage());
                return;
            }
            try (m) {
                boolean features = outputs.stream().anyMatch(o -> o.startsWith("features."));
                List<Tensor> got = features ? m.features(scope, x) : List.of(m.logits(scope, x));
                for (int i = 0; i < got.size(); i++) {
                    double[] want = features ? ref.features().get(i) : ref.logits();
                    Comparison c = Tolerances.compare(want, got.get(i).toFloatArray(), Tolerances.VMAMBA_F32);
                    assertTrue(c.pass(), "[" + backend + "] " + file.getFileName() + " " + (features ? "features." + i : "logits")
                            + " vs float64: " + c.detail());
                }
                for (Tensor t : got) t.close();
            }
        }
    }

    /** The inferred configuration says what the file's options say. */
    static void agrees(Path file, VMambaConfig c, Map<String, String> o, org.ss2d.interop.cases.CaseOptions t) {
        String f = file.getFileName().toString();
        if (o.containsKey("d_state")) assertEquals(o.get("d_state"), "" + c.dState(), f + " d_state");
        if (o.containsKey("forward_type")) assertEquals(t.text("forward_type"), c.forwardType().label(), f + " forward_type");
        if (o.containsKey("patch_embed")) assertEquals(t.text("patch_embed"), c.patchEmbed().name().toLowerCase(Locale.ROOT), f);
        if (o.containsKey("downsample")) assertEquals(t.text("downsample"), c.downsample().name().toLowerCase(Locale.ROOT), f);
        if (o.containsKey("mlp_ratio")) assertEquals(Double.parseDouble(o.get("mlp_ratio")), c.mlpRatio(), 1e-12, f);
        if (o.containsKey("ssm_ratio")) assertEquals(Double.parseDouble(o.get("ssm_ratio")), c.ssmRatio(), 1e-9, f);
        if (o.containsKey("depths")) assertEquals(o.get("depths").replace(" ", ""), java.util.Arrays.toString(c.depths()).replace(" ", ""), f);
        boolean featuresOnly = Boolean.parseBoolean(o.getOrDefault("features_only", "false"));
        if (o.containsKey("num_classes") && !featuresOnly) assertEquals(o.get("num_classes"), "" + c.numClasses(), f);
    }
}
