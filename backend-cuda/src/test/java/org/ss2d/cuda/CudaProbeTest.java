package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.ss2d.Backends;
import org.ss2d.spi.Availability;
import org.ss2d.spi.BackendProvider;

/** Discovery and the cheap probe work everywhere, GPU or not (no generated class is touched). */
class CudaProbeTest {
    @Test
    void providerIsFoundAndProbeAnswersInWords() {
        BackendProvider cuda = ServiceLoader.load(BackendProvider.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("cuda")).findFirst().orElseThrow();
        Availability a = cuda.probe();
        System.out.println("[cuda probe] " + (a.available() ? "available" : "unavailable: " + a.reason()));
        if (CudaTests.required()) {
            assertTrue(a.available(), "-Dss2d.require=cuda but: " + a.reason());
        }
        if (!a.available()) {
            assertFalse(a.reason().isBlank());
            assertTrue(Backends.reasons().contains("cuda: " + a.reason()), Backends.reasons());
        } else {
            assertEquals("", a.reason());
        }
    }

    @Test
    void capabilitiesReportTheLimit() {
        CudaBackend b = CudaTests.backend();
        assertEquals(256, b.capabilities().maxDstate());
        assertTrue(b.capabilities().deviceResident());
        System.out.println("[cuda] " + b.capabilities().device() + ", " + b.capabilities().deviceMemory() + " bytes");
    }
}
