package org.ss2d.cuda;

import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;
import org.ss2d.tensor.Tensor;

/**
 * Device copies of weight tensors, keyed by tensor identity: made on first use, made again when the
 * tensor's {@link Tensor#generation()} moved since (a weight changed in place must not run stale),
 * freed when the tensor closes or the cache is cleared. The generation is read after the upload,
 * which itself reads the tensor's memory. Not thread-safe: the backend serialises its ops.
 *
 * @param <B> the device copy (a {@link DeviceBuffer} in the backend; anything in a unit test)
 */
final class WeightCache<B> {
    private record Entry<B>(B copy, long generation) {}

    private final Map<Tensor, Entry<B>> entries = new IdentityHashMap<>();
    private final Function<Tensor, B> upload;
    private final Consumer<B> free;
    private long uploads;

    /**
     * @param upload makes the device copy of a tensor (reads its memory)
     * @param free   frees a copy that is no longer wanted
     */
    WeightCache(Function<Tensor, B> upload, Consumer<B> free) {
        this.upload = upload;
        this.free = free;
    }

    /** The current device copy of {@code t}, uploaded now if it has none or its copy is stale. */
    B get(Tensor t) {
        purgeClosed();
        Entry<B> e = entries.get(t);
        if (e != null && e.generation() == t.generation()) return e.copy();
        if (e != null) {
            entries.remove(t);
            free.accept(e.copy());
        }
        B copy = upload.apply(t);
        entries.put(t, new Entry<>(copy, t.generation()));
        uploads++;
        return copy;
    }

    /** Uploads made so far (first uses and refreshes): an op that made one waits before returning. */
    long uploads() {
        return uploads;
    }

    /** Copies held now. */
    int size() {
        return entries.size();
    }

    /** Frees the copies of closed tensors. */
    void purgeClosed() {
        for (Iterator<Map.Entry<Tensor, Entry<B>>> it = entries.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Tensor, Entry<B>> e = it.next();
            if (e.getKey().isClosed()) {
                B copy = e.getValue().copy(); // read before remove(): IdentityHashMap reuses the entry
                it.remove();
                free.accept(copy);
            }
        }
    }

    /** Frees every copy; the first failure is thrown after all were tried, later ones suppressed. */
    void clear() {
        RuntimeException failure = null;
        for (Entry<B> e : entries.values()) {
            try {
                free.accept(e.copy());
            } catch (RuntimeException ex) {
                if (failure == null) failure = ex; else failure.addSuppressed(ex);
            }
        }
        entries.clear();
        if (failure != null) throw failure;
    }
}
