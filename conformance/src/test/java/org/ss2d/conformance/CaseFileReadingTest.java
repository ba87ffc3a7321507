package org.ss2d.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.ExtensionTypeRegistry;
import org.junit.jupiter.api.Test;
import org.ss2d.interop.arrow.FixedShapeTensorType;
import org.ss2d.interop.cases.CaseFile;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The suite reads golden files with the engine's one case-file reader: float64 columns keep their
 * precision for expected outputs, and a file reads the same whether or not the
 * {@code arrow.fixed_shape_tensor} extension type is registered in this JVM.
 */
class CaseFileReadingTest {
    static final Path FILE = Path.of("golden/scan_grouped2_all_options.arrow");

    @Test
    void sameColumnsWithAndWithoutTheRegisteredExtensionType() {
        ArrowType.ExtensionType before = ExtensionTypeRegistry.lookup(FixedShapeTensorType.EXTENSION_NAME);
        try (TensorScope s = TensorScope.root("reading")) {
            if (before != null) ExtensionTypeRegistry.unregister(before);
            try (CaseFile plain = CaseFile.open(s, FILE)) {
                FixedShapeTensorType.register();
                try (CaseFile registered = CaseFile.open(s, FILE)) {
                    assertEquals(plain.columns(), registered.columns());
                    for (String n : plain.columns()) {
                        assertArrayEquals(plain.shape(n), registered.shape(n), n);
                        assertArrayEquals(plain.doubles(n), registered.doubles(n), 0.0, n);
                    }
                    assertEquals("selective_scan", plain.kind());
                    assertTrue(plain.options().bool("return_last_state", false));
                    assertEquals("float64", plain.storedDtype("out"));
                    assertEquals("float32", plain.storedDtype("u"));
                    assertArrayEquals(new long[] {2, 2, 16, 129}, plain.shape("B"));
                }
            }
        } finally {
            ArrowType.ExtensionType now = ExtensionTypeRegistry.lookup(FixedShapeTensorType.EXTENSION_NAME);
            if (now != null) ExtensionTypeRegistry.unregister(now);
            if (before != null) ExtensionTypeRegistry.register(before);
        }
    }

    @Test
    void aFileThatIsNotArrowIsARejectionNamingTheFileNotACrash(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path bad = dir.resolve("bad.arrow");
        Files.writeString(bad, "ARROW1 but not really");
        Path cut = dir.resolve("cut.arrow");
        Files.write(cut, java.util.Arrays.copyOf(Files.readAllBytes(FILE), 500));
        try (TensorScope s = TensorScope.root("bad")) {
            assertEquals("file", assertThrows(Ss2dArgumentException.class, () -> CaseFile.open(s, bad)).argument());
            assertEquals("file", assertThrows(Ss2dArgumentException.class, () -> CaseFile.open(s, cut)).argument());
        }
    }
}
