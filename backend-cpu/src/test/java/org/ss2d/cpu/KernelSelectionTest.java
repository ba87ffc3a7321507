package org.ss2d.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.ss2d.Backends;
import org.ss2d.cpu.kernel.Kernels;

/**
 * Proves which kernels this test JVM runs on: each surefire execution names the ones it expects
 * ({@code -Dss2d.cpu.expectKernels}), so a silent fallback to scalar fails the build.
 */
@Tag("width")
class KernelSelectionTest {
    private static final String EXPECT = System.getProperty("ss2d.cpu.expectKernels", "");

    @Test
    void theExpectedKernelsRun() {
        Assumptions.assumeFalse(EXPECT.isBlank(), "no -Dss2d.cpu.expectKernels (run outside the build)");
        String name = Kernels.get().name();
        switch (EXPECT) {
            case "simd" -> assertTrue(name.startsWith("simd-"), "expected SIMD kernels, running " + name);
            case "scalar" -> assertEquals("scalar", name, "expected the scalar fallback");
            default -> assertEquals(EXPECT, name, "expected kernels " + EXPECT);
        }
    }

    @Test
    void withoutTheVectorModuleTheReasonNamesTheFlag() {
        boolean present = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
        if (present) {
            assertTrue(Kernels.get().name().startsWith("simd-"), "module present but kernels are " + Kernels.get().name());
        } else {
            assertEquals("scalar", Kernels.get().name());
            // forcing SIMD without the module fails, and says which flag to add
            Exception e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> KernelsAccess.lookup("simd"));
            assertTrue(e.getMessage().contains("--add-modules jdk.incubator.vector"), e.getMessage());
        }
    }

    @Test
    void theProviderIsDiscoveredAsCpu() {
        var entry = Backends.list().stream().filter(e -> e.name().equals("cpu")).findFirst().orElseThrow();
        assertEquals(100, entry.provider().rank());
        assertTrue(entry.available(), entry.availability().reason());
        assertInstanceOf(CpuBackend.class, Backends.get("cpu"));
        assertTrue(Backends.get("cpu").capabilities().device().contains(Kernels.get().name()));
    }
}
