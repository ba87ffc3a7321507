package org.ss2d.spi;

/**
 * Settings for one backend instance made by {@link BackendProvider#create(BackendOptions)}. A backend
 * that has no use for a setting ignores it (a device backend has no worker threads), so one set of
 * options can be handed to any provider.
 *
 * @param threads worker threads of a host backend, at least 1; 0 means the backend's own default
 *                (for the CPU backend {@code -Dss2d.cpu.threads}, else the available processors)
 * @param device  the device of a device backend ({@code cuda:N} names device N); -1 means the backend's
 *                own default (for CUDA {@code -Dss2d.cuda.device}, else 0)
 */
public record BackendOptions(int threads, int device) {
    /** Every setting at the backend's default. */
    public static final BackendOptions DEFAULTS = new BackendOptions(0, -1);

    /**
     * Options with {@code threads} workers and the default device.
     *
     * @param threads worker threads, or 0 for the backend's default
     * @throws IllegalArgumentException if {@code threads} is negative
     */
    public BackendOptions(int threads) {
        this(threads, -1);
    }

    /**
     * Checks the settings.
     *
     * @throws IllegalArgumentException if {@code threads} is negative
     */
    public BackendOptions {
        if (threads < 0) {
            throw new IllegalArgumentException("threads: expected 0 (the backend's default) or more, found " + threads);
        }
        if (device < -1) {
            throw new IllegalArgumentException("device: expected -1 (the backend's default) or a device number >= 0, found " + device);
        }
    }

    /**
     * These options on device {@code ordinal}.
     *
     * @param ordinal the device number, or -1 for the backend's default
     * @return the options
     * @throws IllegalArgumentException if {@code ordinal} is below -1
     */
    public BackendOptions withDevice(int ordinal) {
        return new BackendOptions(threads, ordinal);
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
