package org.ss2d.conformance.adversarial;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.conformance.CaseResult;
import org.ss2d.conformance.ConformanceRunner;
import org.ss2d.conformance.Report;
import org.ss2d.conformance.adversarial.Corpus.Entry;
import org.ss2d.conformance.adversarial.Corpus.Expect;
import org.ss2d.interop.cases.CaseFile;
import org.ss2d.interop.cases.CaseRunner;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * Our own adversarial suite: {@value #MIN_FILES}+ seeded hostile case files (see {@link Categories}) through
 * the in-process batch path ({@code ss2d conformance --cases}) on every available backend, and each
 * through the {@code ss2d run} path too. It must end with 0 crashes, 0 hangs, 0 unclean rejections,
 * 0 wrong answers and 0 files that the two paths judge differently. Files are generated into
 * {@code target/adversarial}; {@code -Dss2d.adversarial.seed=N} draws another corpus.
 */
class AdversarialSuiteTest {
    static final int MIN_FILES = 600;
    static final long SEED = Long.getLong("ss2d.adversarial.seed", 20261205L);
    /** A rejection speaks the user's words: no Java exception class in it. */
    static final Pattern CLASS_NAME = Pattern.compile("\\b\\w*(Exception|Error)\\b");

    @Test
    void hostileFilesAreCleanRejectionsOrRightAnswersOnBothPaths() throws Exception {
        List<Entry> corpus = Corpus.generate(SEED, Categories.ALL);
        assertTrue(corpus.size() >= MIN_FILES, "corpus of " + corpus.size());
        Path dir = Path.of("target", "adversarial");
        clean(dir);
        Files.createDirectories(dir);
        Map<String, Entry> byId = new LinkedHashMap<>();
        for (Entry e : corpus) {
            Path p = dir.resolve(e.fileName());
            Files.write(p, e.bytes());
            byId.put("file " + p, e);
        }
        List<String> backends = new ArrayList<>();
        for (var b : Backends.list()) if (b.available()) backends.add(b.name());
        String runOn = backends.contains("cpu") ? "cpu" : backends.getFirst();
        long t0 = System.nanoTime();
        // A hang anywhere fails here (the whole suite's budget); a crash would end the JVM and the build.
        Map<String, String> runResults = new LinkedHashMap<>();
        Report report = assertTimeoutPreemptively(Duration.ofMinutes(2), () -> {
            Report r = ConformanceRunner.run(new ConformanceRunner.Options(backends, false, false, dir, null));
            for (Entry e : corpus) runResults.put(e.fileName(), runPath(dir.resolve(e.fileName()), runOn));
            return r;
        });
        double seconds = (System.nanoTime() - t0) / 1e9;

        List<String> problems = new ArrayList<>();
        int crashes = 0, unclean = 0, wrong = 0, disagree = 0, computed = 0, rejected = 0;
        Map<String, List<CaseResult>> rows = new LinkedHashMap<>();
        for (CaseResult r : report.rows()) rows.computeIfAbsent(r.caseId(), k -> new ArrayList<>()).add(r);
        assertEquals(corpus.size(), rows.size(), "every file has its rows");
        for (var fileRows : rows.entrySet()) {
            Entry e = byId.get(fileRows.getKey());
            String what = e.fileName() + " (" + e.why() + ", expected " + e.expect() + ")";
            boolean anyInvalid = false, anyPass = false;
            for (CaseResult r : fileRows.getValue()) {
                switch (r.status()) {
                    case PASS -> anyPass = true;
                    case INVALID -> {
                        anyInvalid = true;
                        if (!clean(r.detail())) {
                            unclean++;
                            problems.add("unclean rejection " + what + " on " + r.backend() + ": " + r.detail());
                        }
                    }
                    case FAIL -> {
                        wrong++;
                        problems.add("wrong answer " + what + ": " + r.describe());
                    }
                    case ERROR -> {
                        crashes++;
                        problems.add("error " + what + ": " + r.describe());
                    }
                    default -> problems.add("status " + r.status() + " " + what + ": " + r.describe());
                }
            }
            if (anyPass) computed++;
            if (anyInvalid) rejected++;
            if (anyPass && anyInvalid) {
                disagree++;
                problems.add("backends disagree on " + what + ": " + fileRows.getValue());
            }
            if ((e.expect() == Expect.COMPUTES && anyInvalid) || (e.expect() == Expect.REJECTED && anyPass)) {
                wrong++;
                problems.add((anyPass ? "accepted " : "rejected ") + what + ": " + fileRows.getValue().getFirst().detail());
            }
            String run = runResults.get(e.fileName());
            if (run.startsWith("unclean")) {
                unclean++;
                problems.add("run path: " + run + " on " + what);
            } else if (run.equals("computed") != anyPass) {
                disagree++;
                problems.add("run " + run + " but batch " + (anyPass ? "computed " : "rejected ") + what);
            }
        }
        String summary = String.format(Locale.ROOT, "adversarial suite (seed %d): %d files in %d categories on %s: "
                        + "%d computed, %d rejected cleanly; %d crashes, 0 hangs, %d unclean rejections, %d wrong answers, "
                        + "%d run/batch disagreements; %.1f s", SEED, corpus.size(), Categories.ALL.size(), backends,
                computed, rejected, crashes, unclean, wrong, disagree, seconds);
        System.out.println(summary);
        problems.stream().limit(40).forEach(p -> System.out.println("  " + p));
        assertTrue(problems.isEmpty(), summary + "\n" + String.join("\n", problems.subList(0, Math.min(40, problems.size()))));
    }

    /** What {@code ss2d run} (reader, kind, runner, facade) does with the file: computed, rejected, or unclean. */
    static String runPath(Path p, String backend) {
        try (TensorScope scope = TensorScope.root("run path")) {
            try (CaseFile f = CaseFile.open(scope, p);
                 CaseRunner.Outcome o = CaseRunner.run(f, CaseRunner.kindOf(f, null), Ss2d.on(backend), scope)) {
                return "computed";
            }
        } catch (Ss2dArgumentException e) {
            return clean(e.getMessage()) ? "rejected" : "unclean rejection: " + e.getMessage();
        } catch (Throwable t) {
            return "unclean: " + t;
        }
    }

    static boolean clean(String message) {
        return message != null && !message.isBlank() && !message.contains("\n") && !CLASS_NAME.matcher(message).find();
    }

    private static void clean(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }
}
