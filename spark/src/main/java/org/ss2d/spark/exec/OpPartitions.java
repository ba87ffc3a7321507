package org.ss2d.spark.exec;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.ss2d.spark.OpSpec;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/** {@code Ss2dSpark.run}: each partition's tensor rows through a case file's op, in batches. */
public final class OpPartitions implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;
    private final OpSpec spec;
    private final int tensorIndex;
    private final int shapeIndex;

    public OpPartitions(OpSpec spec, int tensorIndex, int shapeIndex) {
        this.spec = spec;
        this.tensorIndex = tensorIndex;
        this.shapeIndex = shapeIndex;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        if (!rows.hasNext()) return rows; // an empty partition loads nothing
        LoadedOp op = ExecutorCache.op(spec.caseFile(), TaskDevices.backendFor(spec.backend()), spec.threads());
        long[] want = op.rowShape();
        return new Batches(rows, spec.batchSize(), spec.failOnError()) {
            @Override
            Prepared prepare(Row row) {
                long[] shape = RowTensors.shape(row, shapeIndex, spec.shapeColumn());
                if (!Arrays.equals(shape, want)) {
                    throw new Ss2dArgumentException(spec.shapeColumn(), Arrays.toString(want) + " (the case file's "
                            + op.input() + " without its batch)", Arrays.toString(shape), null);
                }
                return Prepared.ok(row, RowTensors.values(row, tensorIndex, spec.tensorColumn(), shape), shape);
            }

            @Override
            List<Object[]> run(List<Prepared> batch, long[] shape) {
                long[] full = new long[shape.length + 1];
                full[0] = batch.size();
                System.arraycopy(shape, 0, full, 1, shape.length);
                int per = batch.getFirst().values().length;
                float[] all = new float[Math.multiplyExact(per, batch.size())];
                for (int i = 0; i < batch.size(); i++) System.arraycopy(batch.get(i).values(), 0, all, i * per, per);
                TensorScope s = TensorScope.root("ss2d-spark batch");
                try {
                    Tensor x = s.allocate(op.input(), DType.F32, full).copyFrom(all);
                    clock.lap(StageTimes.Stage.CONVERT);
                    Tensor out = op.run(s, x).get("out"); // the op's wait for other tasks is not told apart here
                    float[] o = out.toFloatArray();
                    clock.lap(StageTimes.Stage.MODEL_CALL);
                    long[] outShape = Arrays.copyOfRange(out.shape(), 1, out.rank());
                    int step = o.length / batch.size();
                    List<Object[]> results = new ArrayList<>(batch.size());
                    for (int i = 0; i < batch.size(); i++) {
                        results.add(new Object[] {Arrays.copyOfRange(o, i * step, (i + 1) * step), outShape.clone()});
                    }
                    return results;
                } finally {
                    s.release();
                }
            }

            @Override
            int resultColumns() {
                return 2;
            }
        };
    }

    /** The names of the result columns, before {@code error}. */
    public static List<String> columns() {
        return List.of("out", "out_shape");
    }
}
