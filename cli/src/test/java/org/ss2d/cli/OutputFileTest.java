package org.ss2d.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ss2d.interop.cases.CaseFiles;
import org.ss2d.interop.cases.CaseOptions;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.model.RandomWeights;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * {@code -o} never costs the user data: a result file that is the case file (by name, {@code ./},
 * {@code ..}, a symbolic or a hard link) is refused with exit 2 naming {@code -o} and the case file
 * left as it was (it used to be overwritten by the result); a legal 250-character name works (the
 * temporary name built from it used to pass the file system's limit); a name over the limit is a
 * clean exit 2 naming {@code -o}, not "File name too long" with exit 1.
 */
class OutputFileTest {
    @TempDir
    Path dir;
    Path input;
    byte[] original;

    @BeforeEach
    void writeCase() throws IOException {
        input = dir.resolve("case.arrow");
        try (RootAllocator root = new RootAllocator(); TensorScope scope = TensorScope.of("t", root);
             Tensor x = RandomWeights.gaussian(scope, 3, 1.0, 1, 2, 3, 4)) {
            CaseFiles.writeCase(input, OpKind.CROSS_SCAN, CaseOptions.empty(), Map.of("x", x), root);
        }
        original = Files.readAllBytes(input);
    }

    private void assertRefused(Path output, String why) throws IOException {
        MainTest.Result r = MainTest.ss2d("run", input.toString(), "-o", output.toString(), "--backend", "reference");
        assertEquals(2, r.status(), why + ": " + r.err());
        assertEquals(1, r.errLines().size(), why + ": " + r.err());
        assertTrue(r.err().startsWith("ss2d: -o:"), why + ": " + r.err());
        assertArrayEquals(original, Files.readAllBytes(input), why + ": the case file must be left as it was");
        assertEquals(List.of(), leftovers(), "no temporary files");
    }

    @Test
    void anOutputThatIsTheCaseFileIsRefused() throws IOException {
        assertRefused(input, "the same name");
        assertRefused(dir.resolve(".").resolve("case.arrow"), "through ./");
        Files.createDirectories(dir.resolve("sub"));
        assertRefused(dir.resolve("sub").resolve("..").resolve("case.arrow"), "through ..");
        Path link = dir.resolve("link.arrow");
        Files.createSymbolicLink(link, input);
        assertRefused(link, "a symbolic link to it");
        Path linkedDir = dir.resolve("linked");
        Files.createSymbolicLink(linkedDir, dir);
        assertRefused(linkedDir.resolve("case.arrow"), "through a linked folder");
        Path hard = dir.resolve("hard.arrow");
        Files.createLink(hard, input);
        assertRefused(hard, "a hard link to it");
    }

    @Test
    void aLegal250CharacterNameWorksAndALongerOneIsRefusedNamingO() throws IOException {
        Path legal = dir.resolve("r".repeat(244) + ".arrow");
        MainTest.Result ok = MainTest.ss2d("run", input.toString(), "-o", legal.toString(), "--backend", "reference");
        assertEquals(0, ok.status(), ok.err());
        assertTrue(Files.size(legal) > 0);
        assertEquals(List.of(), leftovers(), "no temporary files");
        Path tooLong = dir.resolve("r".repeat(260) + ".arrow");
        MainTest.Result r = MainTest.ss2d("run", input.toString(), "-o", tooLong.toString(), "--backend", "reference");
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().startsWith("ss2d: -o:") && r.err().contains("255"), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }

    /** Files in the folder other than the case file, its links and the results the tests wrote on purpose. */
    private List<String> leftovers() throws IOException {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).sorted().toList();
        }
    }
}
