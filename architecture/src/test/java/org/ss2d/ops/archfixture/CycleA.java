package org.ss2d.ops.archfixture;

import org.ss2d.model.archfixture.CycleB;

/** Breaks NO_PACKAGE_CYCLES on purpose, with {@link CycleB}. */
public final class CycleA {
    public CycleB next() {
        return new CycleB();
    }
}
