package org.ss2d.conformance.cases;

import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.TensorScope;

/**
 * One case of the suite: inputs drawn from a seed (or read from a case file), float64 expected outputs,
 * and a run through the {@link Ss2d} facade into NaN-poisoned outputs.
 */
public interface ConformanceCase {
    /** Unique and stable, e.g. {@code selective_scan b2 d4 L33 N4 G1 B=constant C=variable +D +z}. */
    String id();

    OpKind op();

    DType dtype();

    /** The main shape in PyTorch notation, e.g. {@code u(2, 4, 33) N=4 G=1}. */
    String shape();

    /** dstate the case needs, 0 when no scan is involved: a backend whose MAX_DSTATE is lower must reject it. */
    int dstate();

    /** Materialises the inputs in {@code arena} (released by the caller). */
    Prepared prepare(TensorScope arena);

    /**
     * Expected values of one output, the op whose budget applies to it, and the dtype the output is stored
     * in (a half scan's {@code out}; the tolerance adds its rounding, its range decides what is finite), and the
     * blocks on the path to it (a half model's budget grows with them, {@code Tolerances.relative}; 1 otherwise).
     */
    record Expected(double[] values, OpKind op, DType dtype, int blocks) {
        /** A float32 output. */
        public Expected(double[] values, OpKind op) {
            this(values, op, DType.F32);
        }

        /** An output reached through at most one block. */
        public Expected(double[] values, OpKind op, DType dtype) {
            this(values, op, dtype, 1);
        }
    }

    interface Prepared extends AutoCloseable {
        /** float64 expected outputs by name ({@code out}, {@code last_state}, {@code xs}, {@code y}). */
        Map<String, Expected> expected();

        /** Runs on {@code ss} into freshly allocated, NaN-filled outputs; returns them by name. */
        Map<String, float[]> run(Ss2d ss);

        /** The backend the last {@link #run} used, by name (ops: the facade's last backend); {@code asked} was forced. */
        default String ranOn(Ss2d ss, String asked) {
            return ss.lastBackend() == null ? null : ss.lastBackend().name();
        }

        /** Frees what the inputs hold besides the arena (an open case file); the executor calls it. */
        @Override
        default void close() {}
    }
}
