package org.ss2d.interop.testing;

import java.net.URISyntaxException;
import java.nio.file.Path;

/** Paths of the committed test fixtures (written by interop/scripts/make_safetensors_fixture.py). */
public final class Fixtures {
    private Fixtures() {}

    public static Path resource(String name) {
        try {
            var url = Fixtures.class.getResource("/" + name);
            if (url == null) throw new IllegalStateException("test fixture " + name + " is missing");
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
