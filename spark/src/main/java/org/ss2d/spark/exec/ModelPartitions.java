package org.ss2d.spark.exec;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.ss2d.interop.image.ImageFiles;
import org.ss2d.interop.image.ImagePreprocessor;
import org.ss2d.interop.image.Interpolation;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.spark.ModelSpec;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.LimitExceededException;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * {@code Ss2dSpark.classify} and {@code features}: each partition's images (decoded and preprocessed as
 * {@code ss2d classify} does) or tensors through the executor's model, in batches.
 */
public final class ModelPartitions implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    /** What the model computes for each row. */
    public enum Output { LOGITS, FEATURES }

    private final ModelSpec spec;
    private final Output output;
    private final int inputIndex;
    private final int labelIndex;
    private final int shapeIndex;

    public ModelPartitions(ModelSpec spec, Output output, int inputIndex, int labelIndex, int shapeIndex) {
        this.spec = spec;
        this.output = output;
        this.inputIndex = inputIndex;
        this.labelIndex = labelIndex;
        this.shapeIndex = shapeIndex;
    }

    /** The names of the result columns, before {@code error}. */
    public static List<String> columns(Output output, int topK) {
        if (output == Output.LOGITS) return topK > 0 ? List.of("logits", "top_classes", "top_probs") : List.of("logits");
        List<String> c = new ArrayList<>();
        for (int i = 0; i < VMambaConfig.STAGES; i++) {
            c.add("features_" + i);
            c.add("features_" + i + "_shape");
        }
        return c;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        if (!rows.hasNext()) return rows; // an empty partition loads nothing
        ImagePreprocessor pre = new ImagePreprocessor(spec.resize(), spec.crop(), Interpolation.BICUBIC,
                ImagePreprocessor.IMAGENET_MEAN, ImagePreprocessor.IMAGENET_STD);
        int results = columns(output, spec.topK()).size();
        return new Batches(rows, spec.batchSize(), spec.failOnError()) {
            // Loaded at the first batch, not here: the executor's first tasks decode their first batch while
            // one of them loads the model (the others wait for it only when they need it).
            private LoadedModel model;

            private LoadedModel model(StageTimes.Stage before) {
                if (model == null) {
                    clock.lap(before);
                    model = load();
                    clock.lap(StageTimes.Stage.MODEL_WAIT);
                }
                return model;
            }

            @Override
            Prepared prepare(Row row) {
                if (!spec.tensors()) return image(row, pre, clock);
                return tensor(row, model(StageTimes.Stage.READ).config().inChans());
            }

            @Override
            List<Object[]> run(List<Prepared> batch, long[] shape) {
                return runBatch(model(StageTimes.Stage.CONVERT), batch, shape, clock);
            }

            @Override
            int resultColumns() {
                return results;
            }
        };
    }

    /**
     * The executor's model on the task's backend: {@code auto} on a task that holds a GPU tries that GPU
     * ({@code cuda:N}) and, where the backend has no whole-model support, goes on as {@code auto}.
     */
    private LoadedModel load() {
        String backend = TaskDevices.backendFor(spec.backend());
        StageTimes.device(backend);
        try {
            return ExecutorCache.model(spec.weights(), spec.model(), backend, spec.threads());
        } catch (LimitExceededException e) {
            if (!Facades.isAuto(spec.backend()) || backend.equals(spec.backend())) throw e;
            return ExecutorCache.model(spec.weights(), spec.model(), spec.backend(), spec.threads());
        }
    }

    private Prepared image(Row row, ImagePreprocessor pre, StageTimes.Clock clock) {
        String label = label(row);
        if (row.isNullAt(inputIndex)) return Prepared.failed(row, label + ": no image bytes (null)");
        try {
            byte[] bytes = (byte[]) row.get(inputIndex);
            var decoded = ImageFiles.read(bytes, label);
            clock.lap(StageTimes.Stage.DECODE);
            float[] x = pre.apply(decoded);
            return Prepared.ok(row, x, new long[] {3, spec.crop(), spec.crop()});
        } catch (IOException | Ss2dArgumentException e) {
            return Prepared.failed(row, e.getMessage());
        } catch (RuntimeException e) {
            // A decoder's own failure on a corrupt file (ImageIO throws unchecked exceptions too).
            return Prepared.failed(row, label + ": not a readable image (" + e + ")");
        }
    }

    private Prepared tensor(Row row, int inChans) {
        long[] shape = RowTensors.shape(row, shapeIndex, spec.shapeColumn());
        if (shape.length != 3 || shape[0] != inChans) {
            throw new Ss2dArgumentException(spec.shapeColumn(), "(" + inChans + ", H, W)", Arrays.toString(shape), null);
        }
        return Prepared.ok(row, RowTensors.values(row, inputIndex, spec.tensorColumn(), shape), shape);
    }

    private String label(Row row) {
        if (labelIndex < 0 || row.isNullAt(labelIndex)) return "image";
        return String.valueOf(row.get(labelIndex));
    }

    private List<Object[]> runBatch(LoadedModel model, List<Prepared> batch, long[] shape, StageTimes.Clock clock) {
        int n = batch.size();
        int per = batch.getFirst().values().length;
        float[] all = new float[Math.multiplyExact(per, n)];
        for (int i = 0; i < n; i++) System.arraycopy(batch.get(i).values(), 0, all, i * per, per);
        TensorScope s = TensorScope.root("ss2d-spark batch");
        try {
            Tensor x = s.allocate("x", DType.F32, n, shape[0], shape[1], shape[2]).copyFrom(all);
            clock.lap(StageTimes.Stage.CONVERT);
            List<Object[]> out = new ArrayList<>(n);
            if (output == Output.LOGITS) {
                Tensor logits = model.logits(s, x, clock);
                float[] l = logits.toFloatArray();
                clock.lap(StageTimes.Stage.MODEL_CALL);
                int classes = (int) logits.dim(1);
                for (int i = 0; i < n; i++) {
                    float[] row = Arrays.copyOfRange(l, i * classes, (i + 1) * classes);
                    if (spec.topK() == 0) {
                        out.add(new Object[] {row});
                    } else {
                        int[] top = TopK.classes(l, i * classes, classes, spec.topK());
                        out.add(new Object[] {row, top, TopK.probabilities(l, i * classes, classes, top)});
                    }
                }
            } else {
                List<Tensor> maps = model.features(s, x, clock);
                List<float[]> host = new ArrayList<>(maps.size());
                for (Tensor m : maps) host.add(m.toFloatArray());
                clock.lap(StageTimes.Stage.MODEL_CALL);
                for (int i = 0; i < n; i++) out.add(new Object[2 * maps.size()]);
                for (int st = 0; st < maps.size(); st++) {
                    Tensor m = maps.get(st);
                    float[] v = host.get(st);
                    int step = v.length / n;
                    int[] mapShape = {(int) m.dim(1), (int) m.dim(2), (int) m.dim(3)};
                    for (int i = 0; i < n; i++) {
                        out.get(i)[2 * st] = Arrays.copyOfRange(v, i * step, (i + 1) * step);
                        out.get(i)[2 * st + 1] = mapShape.clone();
                    }
                }
            }
            return out;
        } finally {
            s.release();
        }
    }
}
