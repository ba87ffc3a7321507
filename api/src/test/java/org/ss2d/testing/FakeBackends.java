package org.ss2d.testing;

import java.util.Set;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.ops.ScanShape;
import org.ss2d.spi.Availability;
import org.ss2d.spi.Backend;
import org.ss2d.spi.BackendOptions;
import org.ss2d.spi.BackendProvider;
import org.ss2d.spi.Capabilities;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;

/** Test-only providers: a preferred backend with MAX_DSTATE 4, a fallback without limit, an unavailable one. */
public final class FakeBackends {
    private FakeBackends() {}

    /** The fake backend of this name fails its next op while running (a device fault), once. */
    private static volatile String failNext;

    public static void failNextRun(String backend) {
        failNext = backend;
    }

    /** Writes its own name's length into every output element, so tests can see which backend ran. */
    static final class Fake implements Backend {
        private final String name;
        private final int maxDstate;

        Fake(String name, int maxDstate) {
            this.name = name;
            this.maxDstate = maxDstate;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public Capabilities capabilities() {
            return new Capabilities(maxDstate, Set.of(DType.F32), false, "test", 0, false, 1);
        }

        @Override
        public void selectiveScan(ScanArgs args, ScanShape shape, Tensor out, Tensor lastState) {
            if (name.equals(failNext)) {
                failNext = null;
                out.fill(Float.NaN); // a fault after a partial write: the next backend must overwrite everything
                throw new IllegalStateException(name + ": launch failed (simulated device fault)");
            }
            out.fill(name.length());
            if (lastState != null) lastState.fill(name.length());
        }

        @Override
        public void crossScan(Tensor x, Tensor out) {
            out.fill(name.length());
        }

        @Override
        public void crossMerge(Tensor ys, Tensor out) {
            out.fill(name.length());
        }

        @Override
        public void ss2d(SS2DWeights weights, Tensor x, Tensor out) {
            out.fill(name.length());
        }

        @Override
        public void vssBlock(VSSWeights weights, Tensor x, Tensor out) {
            out.fill(name.length());
        }
    }

    public static final class Small implements BackendProvider {
        public String name() {
            return "small";
        }

        public int rank() {
            return 50;
        }

        public Availability probe() {
            return Availability.yes();
        }

        public Backend create(BackendOptions options) {
            return new Fake("small", 4);
        }
    }

    public static final class Big implements BackendProvider {
        public String name() {
            return "biggest";
        }

        public int rank() {
            return 10;
        }

        public Availability probe() {
            return Availability.yes();
        }

        /** The device of the last instance made: "biggest" stands for a device backend (cuda:N) in the naming tests. */
        public static volatile int lastDevice = -2;

        public boolean hasDevices() {
            return true;
        }

        public Backend create(BackendOptions options) {
            lastDevice = options.device();
            return new Fake("biggest", Capabilities.UNLIMITED);
        }
    }

    public static final class Missing implements BackendProvider {
        public String name() {
            return "gpu";
        }

        public int rank() {
            return 1000;
        }

        public boolean hasDevices() {
            return true;
        }

        public Availability probe() {
            return Availability.no("libgpu.so.1 not found");
        }

        public Backend create(BackendOptions options) {
            throw new AssertionError("create() must not be called on an unavailable backend");
        }
    }

    public static final class Oracle implements BackendProvider {
        public String name() {
            return "oracle";
        }

        public int rank() {
            return 2000;
        }

        public boolean autoSelectable() {
            return false;
        }

        public Availability probe() {
            return Availability.yes();
        }

        public Backend create(BackendOptions options) {
            return new Fake("oracle", Capabilities.UNLIMITED);
        }
    }
}
