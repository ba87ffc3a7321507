package org.ss2d.spark.exec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The models and ops an executor JVM has loaded, one per checkpoint and configuration: the first task
 * that needs one loads it, the executor's later tasks (and concurrent ones) reuse it. The key holds the
 * file's size and modification time, so a checkpoint replaced under the same path is loaded afresh.
 */
public final class ExecutorCache {
    private ExecutorCache() {}

    record Key(String kind, String path, long size, long modified, String name, String backend, int threads) {}

    private static final Map<Key, AutoCloseable> LOADED = new ConcurrentHashMap<>();

    static LoadedModel model(String weights, String modelName, String backend, int threads) {
        Key k = key("model", weights, modelName, backend, threads);
        return (LoadedModel) LOADED.computeIfAbsent(k, x -> LoadedModel.open(weights, modelName, backend, threads));
    }

    static LoadedOp op(String caseFile, String backend, int threads) {
        Key k = key("op", caseFile, null, backend, threads);
        return (LoadedOp) LOADED.computeIfAbsent(k, x -> LoadedOp.open(caseFile, backend, threads));
    }

    /** How many models and ops this JVM holds (tests check that one executor loads one). */
    public static int size() {
        return LOADED.size();
    }

    /** Closes and forgets everything loaded in this JVM (for tests and long-lived drivers). */
    public static synchronized void clear() {
        for (AutoCloseable c : LOADED.values()) {
            try {
                c.close();
            } catch (Exception ignored) {
                // closing frees memory only; nothing to report to a task
            }
        }
        LOADED.clear();
    }

    private static Key key(String kind, String file, String name, String backend, int threads) {
        Path p = Path.of(file).toAbsolutePath().normalize();
        try {
            return new Key(kind, p.toString(), Files.size(p), Files.getLastModifiedTime(p).toMillis(), name,
                    backend.toLowerCase(java.util.Locale.ROOT), threads);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new Ss2dArgumentException(kind.equals("op") ? "caseFile" : "weights", "a file every executor can read",
                    "no file " + p + " on this executor", null);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + p, e);
        }
    }
}
