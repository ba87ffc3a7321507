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
import org.ss2d.arrow.FixedShapeTensorType;
import org.ss2d.conformance.io.CaseFileReader;

/**
 * The suite's case-file reader keeps float64 columns as doubles (expected outputs need them; the
 * engine's own reader rounds to float32 on load), and reads the same whether or not the api's
 * {@code arrow.fixed_shape_tensor} extension type is registered in this JVM.
 */
class CaseFileReaderTest {
    static final Path FILE = Path.of("golden/scan_grouped2_all_options.arrow");

    @Test
    void sameColumnsWithAndWithoutTheRegisteredExtensionType() throws Exception {
        ArrowType.ExtensionType before = ExtensionTypeRegistry.lookup(FixedShapeTensorType.EXTENSION_NAME);
        try {
            if (before != null) ExtensionTypeRegistry.unregister(before);
            var plain = CaseFileReader.read(FILE);
            FixedShapeTensorType.register();
            var registered = CaseFileReader.read(FILE);
            assertEquals(plain.columns().keySet(), registered.columns().keySet());
            for (String n : plain.columns().keySet()) {
                assertArrayEquals(plain.column(n).shape(), registered.column(n).shape(), n);
                assertArrayEquals(plain.column(n).values(), registered.column(n).values(), 0.0, n);
            }
            assertEquals("selective_scan", plain.kind());
            assertTrue(plain.options().get("return_last_state").asBoolean());
            assertTrue(plain.column("out").float64() && !plain.column("u").float64());
            assertArrayEquals(new long[] {2, 2, 16, 129}, plain.column("B").shape());
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
        var e = assertThrows(org.ss2d.validate.Ss2dArgumentException.class, () -> CaseFileReader.read(bad));
        assertEquals("file", e.argument());
        Path cut = dir.resolve("cut.arrow");
        Files.write(cut, java.util.Arrays.copyOf(Files.readAllBytes(FILE), 500));
        assertEquals("file", assertThrows(org.ss2d.validate.Ss2dArgumentException.class, () -> CaseFileReader.read(cut)).argument());
    }
}
