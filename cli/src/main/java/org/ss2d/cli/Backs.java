package org.ss2d.cli;

import org.ss2d.Backends;
import org.ss2d.Ss2d;

/** Resolving {@code --backend NAME}: unknown or unavailable names are rejected (exit 2), never replaced. */
final class Backs {
    private Backs() {}

    static Ss2d facade(String name) {
        if (name == null || name.equalsIgnoreCase("auto")) {
            try {
                return Ss2d.auto();
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw new Errors.Rejected("backend (from -Dss2d.backend / SS2D_BACKEND): " + e.getMessage());
            }
        }
        try {
            return Ss2d.on(Backends.get(name));
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new Errors.Rejected("--backend: " + e.getMessage());
        }
    }
}
