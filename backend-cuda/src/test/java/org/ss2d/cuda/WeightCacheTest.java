package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.ss2d.model.RandomWeights;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * The weight cache's bookkeeping without a GPU: the "device copy" is a snapshot of the host values,
 * so a stale copy shows as old values. Every mutating path of the tensor API makes the next use
 * upload again; reads do not; closed tensors and clear() free their copies.
 */
class WeightCacheTest {
    private final List<float[]> freed = new ArrayList<>();
    private final WeightCache<float[]> cache = new WeightCache<>(Tensor::toFloatArray, freed::add);
    private TensorScope scope;

    @BeforeEach
    void open() {
        scope = TensorScope.root("weight-cache");
    }

    /** The tensors die with the scope. */
    @AfterEach
    void close() {
        scope.release();
    }

    @Test
    void unchangedWeightsAreUploadedOnce() {
        Tensor w = RandomWeights.gaussian(scope, 1, 1.0, 3, 4);
        float[] first = cache.get(w);
        w.toFloatArray();
        w.getFloat(5);
        assertSame(first, cache.get(w), "reads leave the copy current");
        assertEquals(1, cache.uploads());
    }

    @Test
    void everyWritePathMakesTheNextUseUploadTheNewValues() {
        Tensor w = RandomWeights.gaussian(scope, 2, 1.0, 3, 4);
        cache.get(w);
        List<Runnable> writes = List.of(
                () -> w.setFloat(0, 7f),
                () -> w.set(8f, 1, 2),
                () -> w.copyFrom(new float[12]),
                () -> w.fill(-3f),
                () -> w.segment().setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 4, 9f),
                () -> w.arrowBuf().setFloat(0, 11f),
                w::markModified);
        long uploads = cache.uploads();
        for (Runnable write : writes) {
            write.run();
            float[] copy = cache.get(w);
            assertEquals(++uploads, cache.uploads(), "a write must make the next use upload again");
            assertArrayEquals(w.toFloatArray(), copy, "the copy holds the new values");
            assertSame(copy, cache.get(w), "and stays current until the next write");
        }
        assertEquals(writes.size(), freed.size(), "each stale copy is freed when replaced");
    }

    @Test
    void closedTensorsAndClearFreeTheirCopies() {
        Tensor a = RandomWeights.gaussian(scope, 3, 1.0, 2, 2), b = RandomWeights.gaussian(scope, 4, 1.0, 2, 2);
        float[] ca = cache.get(a);
        cache.get(b);
        a.close();
        cache.purgeClosed();
        assertEquals(List.of(ca), freed);
        assertEquals(1, cache.size());
        cache.clear();
        assertEquals(2, freed.size());
        assertEquals(0, cache.size());
    }
}
