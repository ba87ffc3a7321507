package org.ss2d.interop.cases;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The {@code dtype} option of the block and model kinds ({@code ss2d}, {@code vss_block}, {@code vmamba}) and what
 * it allows in their columns, per the contract: the activations' precision ({@code float32} by default,
 * {@code bfloat16}, {@code float16}); {@code x} in float32 or in that dtype (rounded here, once, when float32);
 * weights in any float dtype, widened here to the float32 tensors the facade takes (the backend rounds the ones
 * it computes with in the dtype, see {@code HalfWeights}); never two half dtypes in one op.
 */
final class ActivationDtype {
    static final String OPTION = "dtype";

    private ActivationDtype() {}

    /** The option, spelled as the contract spells it (no aliases, no case folding: {@code "fp16"} is rejected). */
    static DType of(CaseOptions o) {
        if (!o.has(OPTION)) return DType.F32;
        String v = o.isText(OPTION) ? o.text(OPTION) : null;
        for (DType d : DType.values()) {
            if (d.arrowName().equals(v)) return d;
        }
        throw new Ss2dArgumentException("options." + OPTION, "one of float32, bfloat16, float16 (the activations' dtype)",
                v != null ? "\"" + CaseOptions.abbreviate(v) + "\"" : CaseOptions.abbreviate(o.text(OPTION)), null);
    }

    /** The option of a kind that runs only in float32 so far (the block backward kinds): anything else is named. */
    static void float32Only(CaseOptions o, OpKind kind) {
        DType d = of(o);
        if (d != DType.F32) {
            throw new Ss2dArgumentException("options." + OPTION, "float32 (" + kind.key() + " has no half precision yet)",
                    "\"" + d.arrowName() + "\"", null);
        }
    }

    /** The op's input {@code column} in {@code dtype}: as stored when it is, rounded once when float32. */
    static Tensor input(CaseFile f, String column, DType dtype) {
        Tensor t = f.tensor(column);
        if (t.dtype() == dtype) return t;
        if (t.dtype() != DType.F32) {
            String expected = dtype == DType.F32 ? "dtype float32 (options.dtype is float32, the default)"
                    : "dtype float32 or " + dtype.arrowName() + " (options.dtype is " + dtype.arrowName() + ")";
            throw new Ss2dArgumentException(column, expected, t.dtype().arrowName() + " " + t.describe(), null);
        }
        return f.tensor(column, dtype);
    }

    /**
     * The parameter columns {@code names} as float32 tensors (float32 ones as stored; half ones widened, which is
     * exact). Half columns must all be of one half dtype, the option's when that is half.
     */
    static Map<String, Tensor> weights(CaseFile f, Iterable<String> names, DType dtype) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        DType half = dtype.isHalf() ? dtype : null;
        String why = half == null ? null : "options.dtype is " + half.arrowName();
        for (String n : names) {
            Tensor t = f.tensor(n);
            if (t.dtype().isHalf()) {
                if (half == null) {
                    half = t.dtype();
                    why = n + " is " + half.arrowName();
                } else if (t.dtype() != half) {
                    throw new Ss2dArgumentException(n, "dtype float32 or " + half.arrowName() + " (one half dtype per op: "
                            + why + ")", t.dtype().arrowName() + " " + t.describe(), null);
                }
                t = f.tensor(n, DType.F32);
            }
            out.put(n, t);
        }
        return out;
    }
}
