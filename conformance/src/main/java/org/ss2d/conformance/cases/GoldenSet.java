package org.ss2d.conformance.cases;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * The PyTorch golden vectors ({@code conformance/golden}), packaged in the jar under
 * {@code org/ss2d/conformance/golden/} with {@code MANIFEST.json} as the index, so that the conformance
 * command checks them on a host that has only the jars.
 */
public final class GoldenSet {
    private GoldenSet() {}

    private static final String ROOT = "/org/ss2d/conformance/golden/";

    /** Every golden case file on the class path, in manifest order; empty when the jar has none. */
    public static List<FileCase> load() {
        try (InputStream manifest = GoldenSet.class.getResourceAsStream(ROOT + "MANIFEST.json")) {
            if (manifest == null) return List.of();
            JsonNode files = new ObjectMapper().readTree(manifest).get("files");
            List<FileCase> out = new ArrayList<>();
            for (Iterator<String> it = files.fieldNames(); it.hasNext(); ) {
                String rel = it.next();
                try (InputStream in = GoldenSet.class.getResourceAsStream(ROOT + rel)) {
                    if (in == null) throw new IOException("golden file " + rel + " is in the manifest but not in the jar");
                    out.add(new FileCase(Path.of("golden", rel), in.readAllBytes()));
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
