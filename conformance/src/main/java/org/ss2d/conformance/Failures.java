package org.ss2d.conformance;

/** Describes an unexpected throwable of one case in words, on one line, for the report. */
final class Failures {
    private Failures() {}

    static String describe(Throwable e) {
        String what = switch (e) {
            case OutOfMemoryError o -> "ran out of memory";
            case StackOverflowError s -> "ran out of stack";
            default -> "failed unexpectedly (" + e.getClass().getName() + ")";
        };
        String m = e.getMessage() == null ? "" : ": " + e.getMessage().strip().replaceAll("\\s*\\R\\s*", "; ");
        return what + m;
    }
}
