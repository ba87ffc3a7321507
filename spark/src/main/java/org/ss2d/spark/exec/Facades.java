package org.ss2d.spark.exec;

import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.spi.BackendOptions;

/** The engine facade of an executor: {@code auto} or a forced backend, with a thread count for host backends. */
final class Facades {
    private Facades() {}

    static boolean isAuto(String backend) {
        return backend == null || backend.equalsIgnoreCase("auto");
    }

    /**
     * A forced backend never falls back (an unavailable one is an exception naming it); {@code auto}
     * lets the engine choose, per call or per model. {@code threads > 0} makes a backend of its own with
     * that many workers, so that the executor's cores, not the host's, bound it.
     */
    static Ss2d of(String backend, int threads) {
        if (isAuto(backend)) return Ss2d.auto();
        return Ss2d.on(threads > 0 ? Backends.create(backend, BackendOptions.threads(threads)) : Backends.get(backend));
    }
}
