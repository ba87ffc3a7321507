package org.ss2d.validate;

/**
 * Input that is valid for the op but over a backend's limit (MAX_DSTATE, shared memory, grid size).
 * {@code auto} routes such a case to another backend; a forced backend throws this.
 */
public class LimitExceededException extends Ss2dArgumentException {
    /**
     * @param argument the argument over the limit
     * @param message  which limit of which backend, in words
     */
    public LimitExceededException(String argument, String message) {
        super(argument, message);
    }
}
