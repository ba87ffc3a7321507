package org.ss2d.bindings.archfixture;

import org.ss2d.tensor.Tensor;

/** Breaks BINDINGS_STAND_ALONE on purpose: a binding that knows our tensors. */
public final class BindingsUsesTensor {
    public long bytes(Tensor t) {
        return t.byteSize();
    }
}
