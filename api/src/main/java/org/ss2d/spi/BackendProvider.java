package org.ss2d.spi;

/**
 * A compute backend's entry point, found with {@link java.util.ServiceLoader} (listed in
 * {@code META-INF/services/org.ss2d.spi.BackendProvider}). Discovery must be cheap: {@link #name()},
 * {@link #rank()} and {@link #probe()} never load native code that can fail for good (a jextract
 * class whose static initialiser runs); {@link #create(BackendOptions)} does the heavy loading when
 * a backend is first made.
 */
public interface BackendProvider {
    /**
     * The name users select the backend by.
     *
     * @return a stable lower-case name: {@code cpu}, {@code cuda}, {@code reference}
     */
    String name();

    /**
     * Preference of {@code auto} among available backends.
     *
     * @return higher is preferred
     */
    int rank();

    /**
     * Whether {@code auto} may pick this backend.
     *
     * @return true, or false for backends only run by name (the float64 reference oracle)
     */
    default boolean autoSelectable() {
        return true;
    }

    /**
     * Whether the backend runs on one of several devices, chosen by {@link BackendOptions#device()}; only
     * such a backend may be named with a device ({@code cuda:1}).
     *
     * @return true for a device backend (CUDA), false for host backends
     */
    default boolean hasDevices() {
        return false;
    }

    /**
     * Cheap check of whether {@link #create(BackendOptions)} can succeed; run once per process.
     *
     * @return available, or not with a reason a user can act on (missing driver, old GPU, ...)
     */
    Availability probe();

    /**
     * Makes a backend instance with {@code options} (settings it has no use for are ignored).
     * {@code Backends} calls it once per process for the shared instance, with
     * {@link BackendOptions#DEFAULTS}, and once per {@code Backends.create} call for a private one.
     *
     * @param options settings of the new instance
     * @return a new backend, owned by the caller
     * @throws RuntimeException if the backend cannot start (e.g. the driver refuses a context); only
     *         called after {@link #probe()} said available
     */
    Backend create(BackendOptions options);

    /**
     * {@link #create(BackendOptions)} with every setting at its default.
     *
     * @return a new backend, owned by the caller
     */
    default Backend create() {
        return create(BackendOptions.DEFAULTS);
    }
}
