package org.ss2d.spi;

/**
 * Result of a backend's cheap probe: available, or not with a reason a user can act on.
 *
 * @param available whether the backend can be created
 * @param reason    why not, in words (empty when available)
 */
public record Availability(boolean available, String reason) {
    /**
     * The backend can be created.
     *
     * @return an availability with an empty reason
     */
    public static Availability yes() {
        return new Availability(true, "");
    }

    /**
     * The backend cannot be created.
     *
     * @param reason what is missing and, where possible, what to do (e.g. {@code libcuda.so.1 not found})
     * @return an unavailability with that reason
     */
    public static Availability no(String reason) {
        return new Availability(false, reason);
    }
}
