package org.ss2d;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;
import org.ss2d.spi.Availability;
import org.ss2d.spi.Backend;
import org.ss2d.spi.BackendOptions;
import org.ss2d.spi.BackendProvider;

/**
 * Backend discovery through {@link ServiceLoader}. Probing is cheap and runs once per provider;
 * a backend is created on first use and kept for the life of the process.
 *
 * <p>Choice: {@code -Dss2d.backend=NAME} or the environment variable {@code SS2D_BACKEND} forces
 * one backend for {@link #best()} (an unknown name lists the valid ones; a forced backend that is
 * unavailable throws with the reason, it never falls back). Without it, {@code auto} takes the
 * available, auto-selectable backend of highest rank.
 */
public final class Backends {
    private static final System.Logger LOG = System.getLogger("org.ss2d.Backends");
    private static final Map<String, Backend> CREATED = new ConcurrentHashMap<>();
    private static volatile List<Entry> entries;

    private Backends() {}

    /** One discovered provider and its probe result. */
    public record Entry(BackendProvider provider, Availability availability) {
        /** {@return the provider's name} */
        public String name() {
            return provider.name();
        }

        /** {@return whether the probe found the backend usable} */
        public boolean available() {
            return availability.available();
        }
    }

    /** Every backend on the class path, highest rank first, with its availability. */
    public static List<Entry> list() {
        List<Entry> e = entries;
        if (e == null) {
            synchronized (Backends.class) {
                if (entries == null) {
                    entries = discover();
                }
                e = entries;
            }
        }
        return e;
    }

    private static List<Entry> discover() {
        return discover(ServiceLoader.load(BackendProvider.class));
    }

    static List<Entry> discover(ServiceLoader<BackendProvider> loader) {
        List<Entry> out = new ArrayList<>();
        for (ServiceLoader.Provider<BackendProvider> p : loader.stream().toList()) {
            BackendProvider provider;
            try {
                provider = p.get();
            } catch (Throwable t) {
                LOG.log(System.Logger.Level.WARNING, "backend provider " + p.type().getName() + " failed to load: " + t);
                continue;
            }
            Availability a;
            try {
                a = provider.probe();
            } catch (Throwable t) {
                a = Availability.no("probe failed: " + t);
            }
            out.add(new Entry(provider, a));
        }
        out.sort(Comparator.comparingInt((Entry x) -> -x.provider().rank()).thenComparing(Entry::name));
        return List.copyOf(out);
    }

    /** Names of every discovered backend. */
    public static List<String> names() {
        return list().stream().map(Entry::name).toList();
    }

    /**
     * The named backend, created on first use; {@code NAME:N} names device N of a device backend
     * ({@code cuda:1}). Unknown names throw {@link IllegalArgumentException} listing the valid ones; an
     * unavailable backend throws {@link IllegalStateException} with the reason.
     */
    public static Backend get(String name) {
        // The facade asks this for the owner of device tensors on every op: a name already made is one lookup.
        Backend made = CREATED.get(name);
        if (made != null) return made;
        String key = name.trim().toLowerCase(Locale.ROOT);
        if (key.equals("auto")) {
            return best();
        }
        int device = device(name, key);
        Entry e = available(name, baseName(key));
        // One shared instance per device: "cuda" (the default device) and "cuda:1" are two backends.
        return CREATED.computeIfAbsent(key, k -> e.provider().create(BackendOptions.DEFAULTS.withDevice(device)));
    }

    /** The name without a device suffix: {@code cuda:1} is backend {@code cuda} on device 1. */
    private static String baseName(String key) {
        int colon = key.indexOf(':');
        return colon < 0 ? key : key.substring(0, colon);
    }

    /**
     * The device of {@code name:N}, or -1 for a plain name. A suffix that is not a device number, or one on
     * a backend without devices, is an {@link IllegalArgumentException} naming it.
     */
    private static int device(String name, String key) {
        int colon = key.indexOf(':');
        if (colon < 0) return -1;
        String base = key.substring(0, colon), n = key.substring(colon + 1);
        if (!n.matches("[0-9]{1,9}")) {
            throw new IllegalArgumentException("backend \"" + name + "\": expected NAME or NAME:DEVICE with a device number"
                    + " (cuda:0, cuda:1, ...), found device \"" + n + "\"");
        }
        list().stream().filter(x -> x.name().equals(base)).findFirst().ifPresent(x -> {
            if (!x.provider().hasDevices()) {
                throw new IllegalArgumentException("backend \"" + name + "\": " + base + " has no devices to choose from; use \""
                        + base + "\"");
            }
        });
        return Integer.parseInt(n);
    }

    /**
     * A private instance of the named backend ({@code auto}: the one {@link #best()} picks) made with
     * {@code options}, e.g. a CPU backend with its own thread count. The caller closes it; tensors it
     * allocates must not be handed to the shared instance of {@link #get}. Errors as {@link #get}.
     */
    public static Backend create(String name, BackendOptions options) {
        String key = name.trim().toLowerCase(Locale.ROOT);
        if (key.equals("auto")) {
            key = best().name();
        }
        int device = device(name, key);
        return available(name, baseName(key)).provider().create(device >= 0 ? options.withDevice(device) : options);
    }

    private static Entry available(String name, String key) {
        Entry e = list().stream().filter(x -> x.name().equals(key)).findFirst().orElseThrow(() ->
                new IllegalArgumentException(unknown(name, list())));
        if (!e.available()) {
            throw new IllegalStateException("backend \"" + key + "\" is unavailable: " + e.availability().reason()
                    + " (available: " + availableNames() + ")");
        }
        return e;
    }

    /** The forced backend ({@code -Dss2d.backend} / {@code SS2D_BACKEND}) or the best available one. */
    public static Backend best() {
        String forced = forcedName();
        if (forced != null && !forced.equalsIgnoreCase("auto")) {
            return get(forced);
        }
        List<Backend> all = autoCandidates();
        if (list().isEmpty()) {
            throw new IllegalStateException(NO_BACKEND);
        }
        if (all.isEmpty()) {
            throw new IllegalStateException("no compute backend is available: " + reasons());
        }
        return all.getFirst();
    }

    /**
     * Available, auto-selectable backends in order of preference; logs why each skipped one was skipped
     * (e.g. {@code cuda: libcuda.so.1 not found}).
     */
    public static List<Backend> autoCandidates() {
        List<Backend> out = new ArrayList<>();
        for (Entry e : list()) {
            if (!e.provider().autoSelectable()) continue;
            if (!e.available()) {
                LOG.log(System.Logger.Level.DEBUG, "auto skips " + e.name() + ": " + e.availability().reason());
                continue;
            }
            try {
                out.add(CREATED.computeIfAbsent(e.name(), k -> e.provider().create()));
            } catch (RuntimeException ex) {
                LOG.log(System.Logger.Level.WARNING, "auto skips " + e.name() + ": creation failed: " + ex.getMessage());
            }
        }
        return out;
    }

    /** {@code cuda: libcuda.so.1 not found; cpu: available} */
    public static String reasons() {
        StringBuilder sb = new StringBuilder();
        for (Entry e : list()) {
            if (sb.length() > 0) sb.append("; ");
            sb.append(e.name()).append(": ").append(e.available() ? "available" : e.availability().reason());
        }
        return sb.length() == 0 ? "no backend on the class path" : sb.toString();
    }

    /**
     * What a library user sees when only {@code ss2d-api} is on the class path: the jars that bring
     * backends (each registers itself through {@code META-INF/services}).
     */
    static final String NO_BACKEND = "no ss2d backend on the class path: add org.ss2d:ss2d-backend-cpu "
            + "(any machine), org.ss2d:ss2d-backend-cuda (NVIDIA GPUs) or org.ss2d:ss2d-reference "
            + "(float64 oracle, slow) as a runtime dependency (same version as ss2d-api; the ss2d-bom aligns them)";

    static String unknown(String name, List<Entry> entries) {
        if (entries.isEmpty()) {
            return "unknown backend \"" + name + "\": " + NO_BACKEND;
        }
        return "unknown backend \"" + name + "\"; valid: auto, "
                + String.join(", ", entries.stream().map(Entry::name).toList());
    }

    private static String availableNames() {
        return String.join(", ", list().stream().filter(Entry::available).map(Entry::name).toList());
    }

    /** The forced name from {@code -Dss2d.backend}, else {@code SS2D_BACKEND}, else null. */
    public static String forcedName() {
        String p = System.getProperty("ss2d.backend");
        if (p != null && !p.isBlank()) return p.trim();
        String env = System.getenv("SS2D_BACKEND");
        return env == null || env.isBlank() ? null : env.trim();
    }
}
