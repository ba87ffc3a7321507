package org.ss2d.reference;

import org.ss2d.spi.Availability;
import org.ss2d.spi.Backend;
import org.ss2d.spi.BackendOptions;
import org.ss2d.spi.BackendProvider;

/**
 * The float64 reference oracle as a backend named {@code reference}. It is there so that a user can
 * run any case on the oracle by name ({@code --backend reference}); {@code auto} never picks it
 * (rank 0, not auto-selectable) because it is plain double loops, written to be obviously right,
 * not fast.
 */
public final class ReferenceProvider implements BackendProvider {
    public static final String NAME = "reference";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int rank() {
        return 0;
    }

    @Override
    public boolean autoSelectable() {
        return false;
    }

    @Override
    public Availability probe() {
        return Availability.yes();
    }

    @Override
    public Backend create(BackendOptions options) {
        return new ReferenceBackend();
    }
}
