package org.ss2d.interop.cases;

import java.util.regex.Pattern;

/**
 * Turns a library's exception into words for a one-line rejection: its message without Java class
 * names ({@code ArithmeticException}, {@code java.lang.IndexOutOfBoundsException: ...}), which mean
 * nothing to the person who wrote the file.
 */
final class Messages {
    private Messages() {}

    private static final Pattern CLASS_NAME = Pattern.compile(
            "\\b(?:[a-z][\\w$]*\\.)*[A-Z][\\w$]*(?:Exception|Error)\\b:?\\s*");

    static String inWords(Throwable e) {
        String m = e.getMessage();
        if (m != null) m = CLASS_NAME.matcher(m).replaceAll("").strip();
        if (m == null || m.isEmpty()) {
            m = switch (e) {
                case IndexOutOfBoundsException i -> "a length or offset points past the data";
                case ArithmeticException a -> "a size too large to compute with";
                case OutOfMemoryError o -> "more memory than is available";
                default -> "content the reader does not understand";
            };
        }
        return abbreviate(m);
    }

    /** One line of at most 200 characters. */
    static String abbreviate(String s) {
        String one = s.replaceAll("\\s+", " ").strip();
        return one.length() > 200 ? one.substring(0, 197) + "..." : one;
    }
}
