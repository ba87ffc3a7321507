package org.ss2d.cuda;

import java.util.List;

/** The backend's kernel-choice system properties, read where a launch is planned (so one JVM can switch them). */
final class CudaSettings {
    private CudaSettings() {}

    /**
     * The value of {@code -Dproperty} (trimmed; {@code defaultValue} when unset), which must be one of {@code allowed}:
     * anything else is an error naming the property, the choices and the value, never a silent fallback.
     */
    static String choice(String property, String defaultValue, String... allowed) {
        String v = System.getProperty(property, defaultValue).trim();
        for (String a : allowed) {
            if (a.equals(v)) return a;
        }
        List<String> names = List.of(allowed);
        String expected = names.size() == 1 ? names.getFirst()
                : String.join(", ", names.subList(0, names.size() - 1)) + " or " + names.getLast();
        throw new IllegalArgumentException("-D" + property + ": expected " + expected + ", found \"" + v + "\"");
    }
}
