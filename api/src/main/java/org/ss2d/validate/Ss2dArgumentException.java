package org.ss2d.validate;

/**
 * Rejected input: names the argument, what was expected and what was found, and the limit where one
 * applies. {@link #getMessage()} is one line, fit for a command-line error.
 */
public class Ss2dArgumentException extends IllegalArgumentException {
    private final String argument;
    private final String expected;
    private final String actual;
    private final String limit;

    public Ss2dArgumentException(String argument, String expected, String actual, String limit) {
        super(format(argument, expected, actual, limit));
        this.argument = argument;
        this.expected = expected;
        this.actual = actual;
        this.limit = limit;
    }

    /** A message that does not fit the expected/found pattern (a limit of a backend, say). */
    public Ss2dArgumentException(String argument, String message) {
        super(argument + ": " + message);
        this.argument = argument;
        this.expected = null;
        this.actual = null;
        this.limit = null;
    }

    private static String format(String argument, String expected, String actual, String limit) {
        StringBuilder sb = new StringBuilder(argument).append(": expected ").append(expected)
                .append(", found ").append(actual);
        if (limit != null) sb.append(" (limit: ").append(limit).append(')');
        return sb.toString();
    }

    public String argument() {
        return argument;
    }

    public String expected() {
        return expected;
    }

    public String actual() {
        return actual;
    }

    public String limit() {
        return limit;
    }
}
