package org.ss2d.validate;

/**
 * Rejected input: names the argument, what was expected and what was found, and the limit where one
 * applies. {@link #getMessage()} is one line, fit for a command-line error.
 */
public class Ss2dArgumentException extends IllegalArgumentException {
    /** The argument's name. */
    private final String argument;
    /** What was expected, or null. */
    private final String expected;
    /** What was found, or null. */
    private final String actual;
    /** The limit that applies, or null. */
    private final String limit;

    /**
     * A rejection in the expected/found pattern: {@code "argument: expected E, found F (limit: L)"}.
     *
     * @param argument the argument's name, as users know it ({@code u}, {@code delta_bias}, {@code --backend})
     * @param expected what a valid value looks like
     * @param actual   what was given
     * @param limit    the limit that was exceeded, or null
     */
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

    /** {@return the rejected argument's name} */
    public String argument() {
        return argument;
    }

    /** {@return what was expected, or null for a free-form message} */
    public String expected() {
        return expected;
    }

    /** {@return what was found, or null for a free-form message} */
    public String actual() {
        return actual;
    }

    /** {@return the limit that applies, or null} */
    public String limit() {
        return limit;
    }
}
