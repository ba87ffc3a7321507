package org.ss2d.spi;

/**
 * Found with {@link java.util.ServiceLoader}. Discovery must be cheap: {@link #name()}, {@link #rank()}
 * and {@link #probe()} never load native code that can fail for good (a jextract class whose static
 * initialiser runs); {@link #create()} does the heavy loading, once, when the backend is first used.
 */
public interface BackendProvider {
    /** Stable lower-case name: {@code cpu}, {@code cuda}, {@code reference}. */
    String name();

    /** Higher is preferred by {@code auto}. */
    int rank();

    /** Whether {@code auto} may pick this backend (false for the float64 reference oracle). */
    default boolean autoSelectable() {
        return true;
    }

    /** Cheap check of whether {@link #create()} can succeed, with the reason when not. */
    Availability probe();

    /** Creates the backend; called at most once per process by {@code Backends}. */
    Backend create();
}
