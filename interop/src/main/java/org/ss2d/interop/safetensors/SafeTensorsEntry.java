package org.ss2d.interop.safetensors;

import java.util.List;
import java.util.Map;
import org.ss2d.tensor.Shapes;

/**
 * One tensor of a safetensors header.
 *
 * @param name   the state-dict key, e.g. {@code layers.0.blocks.1.op.in_proj.weight}
 * @param dtype  safetensors dtype name ({@code F32}, {@code F16}, {@code BF16}, {@code F64}, {@code I64}...)
 * @param shape  dimensions, row-major
 * @param begin  first byte inside the data section
 * @param end    one past the last byte
 */
public record SafeTensorsEntry(String name, String dtype, long[] shape, long begin, long end) {
    public SafeTensorsEntry {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long byteSize() {
        return end - begin;
    }

    public long elementCount() {
        return Shapes.elementCount(shape);
    }

    /** {@code F32(4, 8) "in_proj.weight"} */
    public String describe() {
        return dtype + Shapes.format(shape) + " \"" + name + "\"";
    }

    /** Dtypes that load as float32 tensors: F32 zero-copy, the others converted. */
    public static final List<String> FLOAT_DTYPES = List.of("F32", "F16", "BF16", "F64");

    static final Map<String, Integer> SIZES = Map.ofEntries(
            Map.entry("F64", 8), Map.entry("F32", 4), Map.entry("F16", 2), Map.entry("BF16", 2),
            Map.entry("F8_E4M3", 1), Map.entry("F8_E5M2", 1), Map.entry("I64", 8), Map.entry("I32", 4),
            Map.entry("I16", 2), Map.entry("I8", 1), Map.entry("U64", 8), Map.entry("U32", 4),
            Map.entry("U16", 2), Map.entry("U8", 1), Map.entry("BOOL", 1));

    static final String KNOWN_DTYPES = new java.util.TreeSet<>(SIZES.keySet()).toString();

    static Integer elementBytes(String dtype) {
        return SIZES.get(dtype);
    }
}
