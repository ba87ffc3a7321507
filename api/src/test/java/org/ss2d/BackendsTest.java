package org.ss2d;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.ss2d.model.RandomWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.LimitExceededException;

class BackendsTest {
    @Test
    void listShowsEveryProviderWithReasonsAndRankOrder() {
        assertEquals(java.util.List.of("oracle", "gpu", "small", "biggest"), Backends.names());
        assertTrue(Backends.reasons().contains("gpu: libgpu.so.1 not found"), Backends.reasons());
    }

    @Test
    void bestSkipsUnavailableAndNonAutoBackends() {
        assertEquals("small", Backends.best().name());
    }

    @Test
    void unknownNameListsValidOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.get("tpu"));
        assertTrue(e.getMessage().contains("valid: auto, oracle, gpu, small, biggest"), e.getMessage());
    }

    @Test
    void aDeviceBackendIsNamedWithItsDeviceAndEachDeviceIsItsOwnInstance() {
        org.ss2d.spi.Backend three = Backends.get("biggest:3");
        assertEquals(3, org.ss2d.testing.FakeBackends.Big.lastDevice, "device of biggest:3");
        assertTrue(three == Backends.get("Biggest:3"), "one shared instance per device");
        assertFalse(three == Backends.get("biggest"), "the default device is another instance");
        Backends.create("biggest", org.ss2d.spi.BackendOptions.threads(1));
        assertEquals(-1, org.ss2d.testing.FakeBackends.Big.lastDevice, "plain name: the backend's default device");
        Backends.create("biggest:2", org.ss2d.spi.BackendOptions.threads(1));
        assertEquals(2, org.ss2d.testing.FakeBackends.Big.lastDevice, "device of a private instance");
    }

    @Test
    void aDeviceSuffixIsADeviceNumberOnABackendWithDevices() {
        for (String bad : new String[] {"biggest:x", "biggest:-1", "biggest:", "biggest:1:2"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.get(bad), bad);
            assertTrue(e.getMessage().contains("expected NAME or NAME:DEVICE with a device number"), e.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.get("small:0"));
        assertTrue(e.getMessage().contains("small has no devices to choose from; use \"small\""), e.getMessage());
        IllegalStateException u = assertThrows(IllegalStateException.class, () -> Backends.get("gpu:1"));
        assertTrue(u.getMessage().contains("libgpu.so.1 not found"), u.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Backends.get("tpu:0"));
    }

    @Test
    void forcedUnavailableBackendThrowsWithReason() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Ss2d.on("gpu"));
        assertTrue(e.getMessage().contains("libgpu.so.1 not found"), e.getMessage());
    }

    @Test
    void autoRoutesACaseOverTheLimitToABackendThatCanRunItAndForcedThrows() {
        try (TensorScope s = TensorScope.root("route")) {
            ScanArgs a = scan(s, 5);
            Ss2d auto = Ss2d.auto();
            try (ScanArgs.Result r = auto.selectiveScan(s, a)) {
                assertEquals("biggest", auto.lastBackend().name());
                assertEquals("biggest".length(), r.out().getFloat(0));
            }
            ScanArgs small = scan(s, 4);
            try (ScanArgs.Result r = auto.selectiveScan(s, small)) {
                assertEquals("small", auto.lastBackend().name());
            }
            LimitExceededException e = assertThrows(LimitExceededException.class, () -> Ss2d.on("small").selectiveScan(s, a));
            assertEquals("A: dstate=5 exceeds the SMALL backend's MAX_DSTATE=4", e.getMessage());
            for (Tensor t : a.tensors()) if (t != null) t.close();
            for (Tensor t : small.tensors()) if (t != null) t.close();
        }
    }

    @Test
    void aBackendWithoutScanBackwardRefusesByNameBeforeAllocating() {
        try (TensorScope s = TensorScope.root("no-backward")) {
            ScanArgs a = scan(s, 4);
            Tensor dout = s.allocate(org.ss2d.tensor.DType.F32, a.u().shape()).fill(1f);
            int before = s.liveCount();
            LimitExceededException e = assertThrows(LimitExceededException.class,
                    () -> Ss2d.on("small").selectiveScanBackward(s, a, dout, null));
            assertEquals("backward: the SMALL backend does not support the selective scan backward yet", e.getMessage());
            assertEquals(before, s.liveCount());
            dout.close();
            for (Tensor t : a.tensors()) if (t != null) t.close();
        }
    }

    @Test
    void outputsOfAFailedCallAreNotLeaked() {
        try (TensorScope s = TensorScope.root("fail")) {
            ScanArgs a = scan(s, 5);
            int before = s.liveCount();
            assertThrows(LimitExceededException.class, () -> Ss2d.on("small").selectiveScan(s, a));
            assertEquals(before, s.liveCount());
            assertFalse(s.isClosed());
            for (Tensor t : a.tensors()) if (t != null) t.close();
        }
    }

    @Test
    void withNoBackendOnTheClassPathTheErrorNamesTheArtifactsToAdd() throws Exception {
        // A class loader that sees no META-INF/services entries: what a user with only ss2d-api has.
        try (java.net.URLClassLoader none = new java.net.URLClassLoader(new java.net.URL[0], null)) {
            java.util.List<Backends.Entry> found = Backends.discover(
                    java.util.ServiceLoader.load(org.ss2d.spi.BackendProvider.class, none));
            assertEquals(java.util.List.of(), found);
            String m = Backends.unknown("cpu", found);
            assertTrue(m.startsWith("unknown backend \"cpu\": no ss2d backend on the class path"), m);
            assertTrue(m.contains("org.ss2d:ss2d-backend-cpu") && m.contains("org.ss2d:ss2d-backend-cuda"), m);
        }
    }

    static ScanArgs scan(TensorScope s, int dstate) {
        return ScanArgs.builder(RandomWeights.gaussian(s, 1, 1, 1, 4, 3), RandomWeights.gaussian(s, 2, 1, 1, 4, 3),
                RandomWeights.gaussian(s, 3, 1, 4, dstate), RandomWeights.gaussian(s, 4, 1, 1, dstate, 3),
                RandomWeights.gaussian(s, 5, 1, 1, dstate, 3)).returnLastState(true).build();
    }
}
