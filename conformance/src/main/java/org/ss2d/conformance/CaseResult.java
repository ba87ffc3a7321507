package org.ss2d.conformance;

/**
 * One cell of the matrix: a case on a backend.
 *
 * @param op        the op kind ({@code selective_scan}, ...)
 *
 * @param ranOn     the backend the facade reports it ran on ({@code Ss2d.lastBackend()}), or null
 * @param maxAbsErr worst absolute error over the outputs (NaN when not run)
 * @param maxRelErr worst error relative to each output's largest magnitude
 * @param tolerance the budget that applied to the worst output
 * @param millis    wall time of the op call (including host/device copies the backend makes)
 * @param detail    why it failed, was skipped or rejected; the worst element otherwise
 */
public record CaseResult(String caseId, String op, String dtype, String shape, String backend, Status status, String ranOn,
                         double maxAbsErr, double maxRelErr, double tolerance, double millis, String detail) {

    public enum Status {
        /** Within budget against the expected outputs. */
        PASS,
        /** Over the backend's limit (MAX_DSTATE) and rejected with LimitExceededException, as it must be. */
        REJECTED,
        /** Out of budget, NaN, wrong backend, or rejected when it should have run. */
        FAIL,
        /**
         * The case file breaks the contract and was rejected with the engine's one-line reason, as
         * {@code ss2d run} rejects it (the case could not be checked, so the run does not pass).
         */
        INVALID,
        /** The backend threw something other than the expected rejection. */
        ERROR,
        /** The backend is not available here (the reason is in {@code detail}). */
        SKIPPED;

        public boolean ok() {
            return this == PASS || this == REJECTED;
        }
    }

    /** One line for a failure message: names backend, op, dtype and shape. */
    public String describe() {
        return "[" + backend + "] " + op + " " + dtype + " " + shape + " (" + caseId + "): " + status
                + (ranOn != null && !ranOn.equals(backend) ? " ran on " + ranOn : "") + ": " + detail;
    }
}
