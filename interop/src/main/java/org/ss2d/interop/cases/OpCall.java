package org.ss2d.interop.cases;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * One operation built from a case file: its inputs as tensors (checked against the contract by the
 * reader and the kind's runner; shapes and sizes are then checked by the {@link Ss2d} facade).
 */
public interface OpCall {
    OpKind kind();

    /** Runs on {@code ss}; the result columns, in file order, are allocated by the facade in {@code scope}. */
    Map<String, Tensor> run(Ss2d ss, TensorScope scope);

    /**
     * The shapes of the result columns, for callers that allocate outputs themselves (the conformance
     * suite fills them with NaN first). Only meaningful once the facade has accepted the inputs.
     */
    Map<String, long[]> outputShapes();

    /** The dtype of output {@code name} (float32 unless the op says otherwise: a half scan's out). */
    default org.ss2d.tensor.DType outputDtype(String name) {
        return org.ss2d.tensor.DType.F32;
    }

    /** Runs on {@code ss} into caller-made outputs of {@link #outputShapes()} and {@link #outputDtype}. */
    void runInto(Ss2d ss, Map<String, Tensor> outputs);

    /** The backend the last run used (a whole model picks its own; null for a host-only kind). */
    default org.ss2d.spi.Backend ranOn(Ss2d ss) {
        return ss.lastBackend();
    }

    /** A one-entry ordered map, for the single-output kinds. */
    static <V> Map<String, V> out(V v) {
        Map<String, V> m = new LinkedHashMap<>();
        m.put("out", v);
        return m;
    }
}
