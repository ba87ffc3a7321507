package org.ss2d.spi;

/**
 * Found with {@link java.util.ServiceLoader}. Discovery must be cheap: {@link #name()}, {@link #rank()}
 * and {@link #probe()} never load native code that can fail for good (a jextract class whose static
 * initialiser runs); {@link #create(BackendOptions)} does the heavy loading when a backend is first
 * made.
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

    /**
     * Makes a backend instance with {@code options} (settings it has no use for are ignored).
     * {@code Backends} calls it once per process for the shared instance, with
     * {@link BackendOptions#DEFAULTS}, and once per {@code Backends.create} call for a private one.
     *
     * @throws RuntimeException if the backend cannot start (e.g. the driver refuses a context); only
     *         called after {@link #probe()} said available
     */
    Backend create(BackendOptions options);

    /** {@link #create(BackendOptions)} with every setting at its default. */
    default Backend create() {
        return create(BackendOptions.DEFAULTS);
    }
}
