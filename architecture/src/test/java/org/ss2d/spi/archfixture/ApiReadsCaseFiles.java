package org.ss2d.spi.archfixture;

import org.ss2d.interop.archfixture.FormatThing;

/** Breaks API_IS_NEUTRAL on purpose: an api class that reads a file format. */
public final class ApiReadsCaseFiles {
    public String read() {
        return new FormatThing().toString();
    }
}
