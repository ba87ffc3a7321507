package org.ss2d.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ss2d.conformance.CaseResult.Status;

/** The runner behind {@code ss2d conformance}: case files from a folder, the matrix, JSON, failures. */
class ConformanceRunnerTest {
    @Test
    void runsAFolderOfPyarrowCaseFilesOnEachBackend(@TempDir Path dir) throws Exception {
        Files.copy(Path.of("golden/fixtures/scan_pyarrow.arrow"), dir.resolve("a.arrow"));
        Files.copy(Path.of("golden/fixtures/scan_pyarrow_plain_lists.arrow"), dir.resolve("b.arrow"));
        Files.copy(Path.of("golden/cross_scan_4x5.arrow"), dir.resolve("c.arrow"));
        List<String> backends = Targets.available();
        List<Integer> progress = new ArrayList<>();
        Report r = ConformanceRunner.run(new ConformanceRunner.Options(backends, false, false, dir, new ConformanceRunner.Listener() {
            @Override
            public void finished(CaseResult result, int done, int cells) {
                progress.add(done);
            }
        }));
        assertEquals(3 * backends.size(), r.rows().size());
        assertEquals(r.rows().size(), progress.size());
        assertTrue(r.passed(), r.table());
        assertTrue(r.rows().stream().allMatch(x -> x.status() == Status.PASS && x.maxRelErr() <= x.tolerance()), r.table());
        String json = r.json();
        assertTrue(json.contains("\"passed\": true") && json.contains("\"max_rel_err\"") && json.contains("a.arrow"), json);
        assertTrue(r.table().contains("PASSED"), r.table());
    }

    @Test
    void anUnreadableFileIsAnInvalidRowNotACrash(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("broken.arrow"), "not an arrow file");
        Files.write(dir.resolve("truncated.arrow"),
                java.util.Arrays.copyOf(Files.readAllBytes(Path.of("golden/cross_scan_1x6.arrow")), 300));
        Report r = ConformanceRunner.run(new ConformanceRunner.Options(List.of("reference"), false, false, dir, null));
        assertFalse(r.passed());
        assertEquals(2, r.failures().size(), r.table());
        // The same one-line rejection `ss2d run` gives, naming the file (not an ERROR: nothing went wrong in the engine).
        assertTrue(r.failures().stream().allMatch(x -> x.status() == Status.INVALID && x.detail().startsWith("file: expected")
                && !x.detail().contains("\n")), r.table());
    }

    @Test
    void theGoldenVectorsTravelInTheJarAndPassOnEachBackend() throws Exception {
        List<String> backends = Targets.available();
        Report r = ConformanceRunner.run(new ConformanceRunner.Options(backends, false, true, null, null));
        assertEquals(ConformanceRunner.caseFiles(Path.of("golden")).size() * backends.size(), r.rows().size(), r.table());
        assertTrue(r.passed(), r.table());
    }

    @Test
    void anUnavailableOrUnknownBackendIsSkippedWithTheReason() throws Exception {
        Report r = ConformanceRunner.run(new ConformanceRunner.Options(List.of("no-such-backend"), false,
                false, Path.of("golden/fixtures"), null));
        assertTrue(r.rows().stream().allMatch(x -> x.status() == Status.SKIPPED && x.detail().contains("valid")), r.table());
    }
}
