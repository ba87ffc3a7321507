package org.ss2d.bench;

import org.ss2d.Backends;
import org.ss2d.spi.Backend;
import org.ss2d.spi.BackendOptions;

/**
 * Resolves a backend by name through the SPI: with an explicit thread count on a host backend, a
 * private instance made with those options (closed afterwards); otherwise the shared one.
 */
final class Backs {
    private Backs() {}

    /** The backend and whether the caller must close it. */
    record Handle(Backend backend, boolean owned) implements AutoCloseable {
        int threads() {
            return backend.capabilities().threads();
        }

        @Override
        public void close() {
            if (owned) backend.close();
        }
    }

    static Handle open(String name, int threads) {
        Backend shared = Backends.get(name);
        // A device backend has no threads to set, and its tensors are looked up by name: keep the shared one.
        if (threads > 0 && !shared.capabilities().deviceResident()) {
            return new Handle(Backends.create(shared.name(), BackendOptions.threads(threads)), true);
        }
        return new Handle(shared, false);
    }
}
