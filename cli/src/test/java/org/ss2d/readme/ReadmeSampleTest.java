package org.ss2d.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * The README's API sample is this file's {@link #sample()} body, word for word: one test runs it, the
 * other checks that the README still shows exactly this code.
 */
class ReadmeSampleTest {

    static void sample() {
        // BEGIN README
        try (TensorScope scope = TensorScope.root("readme")) {
            // Mamba's selective_scan_fn(u, delta, A, B, C, D, delta_bias, delta_softplus=True, return_last_state=True)
            int batch = 2, dim = 8, seqlen = 64, dstate = 4, groups = 2;
            Tensor u = RandomWeights.gaussian(scope, 1, 1.0, batch, dim, seqlen);
            Tensor delta = RandomWeights.gaussian(scope, 2, 0.5, batch, dim, seqlen);
            Tensor A = RandomWeights.uniform(scope, 3, -2.0, -0.1, dim, dstate);
            Tensor B = RandomWeights.gaussian(scope, 4, 1.0, batch, groups, dstate, seqlen);
            Tensor C = RandomWeights.gaussian(scope, 5, 1.0, batch, groups, dstate, seqlen);
            Tensor D = RandomWeights.gaussian(scope, 6, 1.0, dim);
            Tensor bias = RandomWeights.gaussian(scope, 7, 0.1, dim);

            Ss2d ss = Ss2d.auto();                       // best available backend; -Dss2d.backend=cpu forces one
            ScanArgs args = ScanArgs.builder(u, delta, A, B, C)
                    .D(D).deltaBias(bias).deltaSoftplus(true).returnLastState(true).build();
            try (ScanArgs.Result r = ss.selectiveScan(scope, args)) {
                System.out.println(ss.lastBackend().name() + ": out " + r.out().describe()
                        + ", last_state " + r.lastState().describe() + ", out[0,0,0] = " + r.out().get(0, 0, 0));
            }

            // An SS2D block at VMamba-T stage-1 widths with seeded weights named as in VMamba's state dict.
            SS2DWeights w = RandomWeights.ss2d(scope, SS2DConfig.of(96, 1, 1.0), 42);
            Tensor x = RandomWeights.gaussian(scope, 8, 1.0, 1, 96, 14, 14);
            try (Tensor y = ss.ss2d(scope, w, x)) {
                System.out.println("ss2d " + y.describe() + " on " + ss.lastBackend().name());
            }
            scope.release();                             // inputs and weights die with the scope, as in an arena
        }
        // END README
    }

    @Test
    void sampleRunsAndPrintsItsResults() {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            sample();
        } finally {
            System.setOut(old);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        old.print(out);
        assertTrue(out.contains("out f32(2, 8, 64)@host, last_state f32(2, 8, 4)@host"), out);
        assertTrue(out.contains("ss2d f32(1, 96, 14, 14)@host"), out);
        assertTrue(!out.contains("NaN"), out);
    }

    @Test
    void readmeShowsExactlyThisSample() throws IOException {
        Path here = Path.of("").toAbsolutePath();
        Path readme = (Files.exists(here.resolve("README.md")) && Files.exists(here.resolve("mvnw")) ? here : here.getParent())
                .resolve("README.md");
        List<String> lines = Files.readAllLines(readme);
        int marker = indexOf(lines, "<!-- readme-sample: the block below is compiled and run by cli/", 0);
        int open = indexOf(lines, "```java", marker);
        int close = indexOf(lines, "```", open + 1);
        List<String> inReadme = lines.subList(open + 1, close);

        Path src = here.resolve("src/test/java/org/ss2d/readme/ReadmeSampleTest.java");
        if (!Files.exists(src)) src = here.resolve("cli/src/test/java/org/ss2d/readme/ReadmeSampleTest.java");
        List<String> code = Files.readAllLines(src);
        int b = indexOf(code, "// BEGIN README", 0), e = indexOf(code, "// END README", b);
        List<String> inTest = code.subList(b + 1, e).stream().map(l -> l.length() >= 8 ? l.substring(8) : l.strip()).toList();
        assertEquals(String.join("\n", inTest), String.join("\n", inReadme),
                "README.md's API sample differs from ReadmeSampleTest.sample(): update one to match the other");
    }

    /**
     * The README's "Use it from Maven or Gradle" shows examples/consumer (built and run by examples/pom.xml
     * against installed artifacts): its dependencies and its code, each the part between the file's
     * BEGIN README / END README markers, the pom with the project's version filled in.
     */
    @Test
    void readmeShowsExactlyTheConsumerProject() throws IOException {
        Path here = Path.of("").toAbsolutePath();
        Path root = Files.exists(here.resolve("mvnw")) ? here : here.getParent();
        List<String> lines = Files.readAllLines(root.resolve("README.md"));
        String version = java.util.regex.Pattern.compile("<artifactId>ss2d-parent</artifactId>\\s*<version>([^<]+)</version>")
                .matcher(Files.readString(root.resolve("pom.xml"))).results().findFirst().orElseThrow().group(1);
        for (String[] f : new String[][] {{"examples/consumer/pom.xml", "```xml", "<!-- BEGIN README -->", "<!-- END README -->"},
                {"examples/consumer/src/main/java/example/Consumer.java", "```java", "// BEGIN README", "// END README"}}) {
            int marker = indexOf(lines, "<!-- readme-sample: " + f[0], 0);
            int open = indexOf(lines, f[1], marker);
            int close = indexOf(lines, "```", open + 1);
            List<String> code = Files.readAllLines(root.resolve(f[0]));
            int b = indexOf(code, f[2], 0), e = indexOf(code, f[3], b);
            int indent = code.get(b).indexOf(f[2]);
            List<String> inFile = code.subList(b + 1, e).stream()
                    .map(l -> l.length() >= indent ? l.substring(indent) : l.strip())
                    .map(l -> l.replace("@project.version@", version)).toList();
            assertEquals(String.join("\n", inFile), String.join("\n", lines.subList(open + 1, close)),
                    "README.md differs from " + f[0] + " (between its README markers): update one to match the other");
        }
    }

    private static int indexOf(List<String> lines, String prefix, int from) {
        for (int i = Math.max(from, 0); i < lines.size(); i++) {
            if (lines.get(i).strip().startsWith(prefix)) return i;
        }
        throw new AssertionError("'" + prefix + "' not found after line " + from);
    }
}
