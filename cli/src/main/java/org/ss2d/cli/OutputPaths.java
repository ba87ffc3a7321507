package org.ss2d.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * Checks on {@code -o} before anything is read: the result must not replace the case file it is
 * computed from (by the same name, through {@code ./} or {@code ..}, a symbolic link or a hard link),
 * and its name must be one the file system can create.
 */
final class OutputPaths {
    private OutputPaths() {}

    /** The common file-name limit of Linux and macOS file systems, in bytes. */
    static final int NAME_MAX = 255;

    static void check(Path input, Path output) {
        Path name = output.getFileName();
        if (name == null) {
            throw new Ss2dArgumentException("-o", "a file name", "\"" + output + "\"", null);
        }
        int bytes = name.toString().getBytes(StandardCharsets.UTF_8).length;
        if (bytes > NAME_MAX) {
            throw new Ss2dArgumentException("-o", "a file name of at most " + NAME_MAX + " bytes",
                    "a name of " + bytes + " bytes", null);
        }
        if (sameFile(input, output)) {
            throw new Ss2dArgumentException("-o", "a result file other than the case file",
                    output + " is the case file " + input + " (it would be overwritten)", null);
        }
    }

    private static boolean sameFile(Path input, Path output) {
        try {
            if (Files.exists(output)) return Files.exists(input) && Files.isSameFile(input, output);
            // Not there yet: compare where it would be created with where the input really is.
            Path parent = output.toAbsolutePath().getParent();
            Path would = parent.toRealPath().resolve(output.getFileName());
            return Files.exists(input) && would.equals(input.toRealPath());
        } catch (IOException e) {
            return false; // an unreadable input or folder is reported by the reader and the writer
        }
    }
}
