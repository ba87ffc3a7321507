package org.ss2d.spi;

/**
 * Settings for one backend instance made by {@link BackendProvider#create(BackendOptions)}. A backend
 * that has no use for a setting ignores it (a device backend has no worker threads), so one set of
 * options can be handed to any provider.
 *
 * @param threads worker threads of a host backend, at least 1; 0 means the backend's own default
 *                (for the CPU backend {@code -Dss2d.cpu.threads}, else the available processors)
 */
public record BackendOptions(int threads) {
    /** Every setting at the backend's default. */
    public static final BackendOptions DEFAULTS = new BackendOptions(0);

    /**
     * Checks the settings.
     *
     * @throws IllegalArgumentException if {@code threads} is negative
     */
    public BackendOptions {
        if (threads < 0) {
            throw new IllegalArgumentException("threads: expected 0 (the backend's default) or more, found " + threads);
        }
    }

    /**
     * Options with {@code threads} workers.
     *
     * @param threads worker threads, or 0 for the backend's default
     * @return the options
     * @throws IllegalArgumentException if {@code threads} is negative
     */
    public static BackendOptions threads(int threads) {
        return new BackendOptions(threads);
    }
}
