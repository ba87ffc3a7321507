package org.ss2d.bench;

import org.ss2d.Backends;
import org.ss2d.cpu.CpuBackend;
import org.ss2d.spi.Backend;

/** Resolves a backend by name; for {@code cpu} with an explicit thread count, a private instance. */
final class Backs {
    private Backs() {}

    /** The backend and whether the caller must close it. */
    record Handle(Backend backend, boolean owned) implements AutoCloseable {
        int threads() {
            return backend.capabilities().threads();
        }

        @Override
        public void close() {
            if (owned && backend instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }
    }

    static Handle open(String name, int threads) {
        if (name.equalsIgnoreCase(CpuBackend.NAME) && threads > 0) {
            return new Handle(new CpuBackend(threads), true);
        }
        return new Handle(Backends.get(name), false);
    }
}
