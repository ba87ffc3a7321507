package org.ss2d.bench.archfixture;

import org.ss2d.Backends;
import org.ss2d.spi.Backend;
import org.ss2d.spi.BackendOptions;

/** Keeps every rule: a benchmark that gets its backend through the SPI. */
public final class BenchUsesSpi {
    public Backend open() {
        return Backends.create("cpu", BackendOptions.threads(2));
    }
}
