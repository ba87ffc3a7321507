package org.ss2d.model.archfixture;

import org.ss2d.ops.archfixture.CycleA;

/** Closes the cycle with {@link CycleA}. */
public final class CycleB {
    public CycleA back() {
        return new CycleA();
    }
}
