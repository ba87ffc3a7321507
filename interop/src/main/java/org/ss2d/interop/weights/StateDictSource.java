package org.ss2d.interop.weights;

import java.util.Set;
import org.ss2d.tensor.Tensor;

/**
 * A checkpoint seen as a state dict: names, and tensors loaded on demand. The source owns every
 * tensor it hands out and frees them when it closes, so callers need not close them one by one.
 */
public interface StateDictSource extends AutoCloseable {
    /** Every key in the checkpoint, in file order. */
    Set<String> keys();

    /** The key's element type as the file names it (e.g. {@code F32}, {@code float16}), or null if absent. */
    String dtypeOf(String key);

    /** The key's shape, or null if absent (no bytes are read). */
    long[] shapeOf(String key);

    /** Whether {@link #load} turns this key into a float32 tensor. */
    boolean isFloat(String key);

    /**
     * The tensor under {@code key} as float32: zero-copy where the stored bytes already are float32,
     * converted otherwise. Throws {@link org.ss2d.validate.Ss2dArgumentException} naming the key if
     * it is missing or not a floating-point type.
     */
    Tensor load(String key);

    /**
     * Whether every key under a prefix must be a wanted parameter (a checkpoint, the default), or
     * only keys that name some SS2D/VSS parameter are checked and others ignored (a case file, whose
     * contract lets it carry inputs and expected outputs beside the weights).
     */
    default boolean strictKeys() {
        return true;
    }

    /** Short description for messages, e.g. the file name. */
    String describe();

    @Override
    void close();
}
