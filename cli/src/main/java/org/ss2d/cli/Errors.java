package org.ss2d.cli;

import java.io.PrintWriter;
import org.ss2d.validate.Ss2dArgumentException;

/** Turns exceptions into the command's one-line errors and exit statuses. */
final class Errors {
    private Errors() {}

    /** A rejected command-line argument (unknown backend, unknown op): exit status 2. */
    static final class Rejected extends RuntimeException {
        Rejected(String message) {
            super(message);
        }
    }

    /** {@code ss2d: message}, newlines folded so a shell sees exactly one line. */
    static String oneLine(String prefix, String message) {
        String m = message == null ? "(no message)" : message.strip().replaceAll("\\s*\\R\\s*", "; ");
        return prefix + ": " + m;
    }

    static int report(PrintWriter err, Exception ex) {
        if (ex instanceof Ss2dArgumentException || ex instanceof Rejected) {
            err.println(oneLine("ss2d", ex.getMessage()));
            return Main.REJECTED;
        }
        err.println(oneLine("ss2d: failed", ex.getClass().getSimpleName() + ": " + ex.getMessage()));
        if (System.getenv("SS2D_DEBUG") != null || Boolean.getBoolean("ss2d.debug")) {
            ex.printStackTrace(err);
        }
        return Main.FAILED;
    }
}
