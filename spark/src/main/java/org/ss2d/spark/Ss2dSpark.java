package org.ss2d.spark;

import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.ss2d.interop.safetensors.SafeTensorsFile;
import org.ss2d.spark.exec.ModelPartitions;
import org.ss2d.spark.exec.OpPartitions;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * VMamba and the engine's ops over Spark DataFrames. Each call appends result columns and an
 * {@code error} column to the input's columns, computed partition by partition on the executors: rows
 * are stacked into batches, one model (or op) per executor JVM is loaded on first use and shared by its
 * tasks. A row that cannot be read (a corrupt image, a tensor of the wrong shape) gets null results and
 * its reason in {@code error}, or fails the job when the spec says so. The calls are lazy, as Spark's
 * transformations are: nothing runs until an action (a write, a count, a collect).
 *
 * <p>The driver checks the columns and the checkpoint (or case file) once, here, so that a wrong path or
 * column is an {@link Ss2dArgumentException} before any task starts.
 */
public final class Ss2dSpark {
    private Ss2dSpark() {}

    /**
     * Appends {@code logits} ({@code array<float>}, one value per class) and, when {@code topK > 0},
     * {@code top_classes} ({@code array<int>}) and {@code top_probs} ({@code array<double>}, softmax
     * probabilities), then {@code error}.
     */
    public static Dataset<Row> classify(Dataset<Row> images, ModelSpec spec) {
        return model(images, spec, ModelPartitions.Output.LOGITS);
    }

    /**
     * Appends the four stage maps: {@code features_<i>} ({@code array<float>}, one sample's
     * {@code (C_i, H_i, W_i)} map, channel-major) and {@code features_<i>_shape} ({@code array<int>}), then
     * {@code error}.
     */
    public static Dataset<Row> features(Dataset<Row> images, ModelSpec spec) {
        return model(images, spec, ModelPartitions.Output.FEATURES);
    }

    /**
     * Appends {@code out} ({@code array<float>}) and {@code out_shape} ({@code array<bigint>}, without the
     * batch): the op of the spec's case file applied to each row's tensor, then {@code error}.
     */
    public static Dataset<Row> run(Dataset<Row> tensors, OpSpec spec) {
        StructType in = tensors.schema();
        int t = column(in, spec.tensorColumn(), "tensorColumn", floats());
        int s = shapeColumn(in, spec.shapeColumn());
        if (!java.nio.file.Files.isRegularFile(Path.of(spec.caseFile()))) {
            throw new Ss2dArgumentException("caseFile", "a case file (Arrow IPC)", "no file " + spec.caseFile(), null);
        }
        StructType out = appended(in, List.of(
                new StructField("out", floats(), true, org.apache.spark.sql.types.Metadata.empty()),
                new StructField("out_shape", DataTypes.createArrayType(DataTypes.LongType, false), true,
                        org.apache.spark.sql.types.Metadata.empty())));
        return tensors.mapPartitions(new OpPartitions(spec, t, s), Encoders.row(out));
    }

    private static Dataset<Row> model(Dataset<Row> rows, ModelSpec spec, ModelPartitions.Output output) {
        StructType in = rows.schema();
        int input, label = -1, shape = -1;
        if (spec.tensors()) {
            input = column(in, spec.tensorColumn(), "tensorColumn", floats());
            shape = shapeColumn(in, spec.shapeColumn());
        } else {
            input = column(in, spec.imageColumn(), "imageColumn", DataTypes.BinaryType);
            if (spec.labelColumn() != null && in.getFieldIndex(spec.labelColumn()).isDefined()) {
                label = in.fieldIndex(spec.labelColumn());
            }
        }
        checkWeights(spec);
        List<StructField> add = new java.util.ArrayList<>();
        for (String c : ModelPartitions.columns(output, spec.topK())) add.add(field(c, output));
        return rows.mapPartitions(new ModelPartitions(spec, output, input, label, shape), Encoders.row(appended(in, add)));
    }

    /** The checkpoint read on the driver (shapes only: the file is mapped, not copied) to reject a wrong one before any task. */
    private static void checkWeights(ModelSpec spec) {
        Path p = Path.of(spec.weights());
        if (!java.nio.file.Files.isRegularFile(p)) {
            throw new Ss2dArgumentException("weights", "a safetensors file", "no file " + spec.weights(), null);
        }
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            org.ss2d.spark.exec.Checks.weights(f, spec.weights(), spec.model());
        }
    }

    private static StructField field(String name, ModelPartitions.Output output) {
        DataType t;
        if (name.equals("top_classes")) t = DataTypes.createArrayType(DataTypes.IntegerType, false);
        else if (name.equals("top_probs")) t = DataTypes.createArrayType(DataTypes.DoubleType, false);
        else if (name.endsWith("_shape")) t = DataTypes.createArrayType(DataTypes.IntegerType, false);
        else t = floats();
        return new StructField(name, t, true, org.apache.spark.sql.types.Metadata.empty());
    }

    private static ArrayType floats() {
        return DataTypes.createArrayType(DataTypes.FloatType, false);
    }

    private static StructType appended(StructType in, List<StructField> results) {
        StructType out = in;
        for (StructField f : results) out = add(out, f);
        return add(out, new StructField("error", DataTypes.StringType, true, org.apache.spark.sql.types.Metadata.empty()));
    }

    private static StructType add(StructType s, StructField f) {
        if (s.getFieldIndex(f.name()).isDefined()) {
            throw new Ss2dArgumentException("columns", "no column named " + f.name() + " in the input (it is a result column)",
                    "one", null);
        }
        return s.add(f);
    }

    private static int column(StructType s, String name, String option, DataType type) {
        if (!s.getFieldIndex(name).isDefined()) {
            throw new Ss2dArgumentException(option, "a column " + name + " of " + type.simpleString(),
                    "columns " + List.of(s.fieldNames()), null);
        }
        int i = s.fieldIndex(name);
        DataType found = s.fields()[i].dataType();
        boolean ok = type instanceof ArrayType a && found instanceof ArrayType f
                ? a.elementType().equals(f.elementType()) : found.equals(type);
        if (!ok) throw new Ss2dArgumentException(option, name + " of " + type.simpleString(), found.simpleString(), null);
        return i;
    }

    private static int shapeColumn(StructType s, String name) {
        if (!s.getFieldIndex(name).isDefined()) {
            throw new Ss2dArgumentException("shapeColumn", "a column " + name + " of array<int> or array<bigint>",
                    "columns " + List.of(s.fieldNames()), null);
        }
        int i = s.fieldIndex(name);
        DataType found = s.fields()[i].dataType();
        if (!(found instanceof ArrayType a && (a.elementType().equals(DataTypes.IntegerType) || a.elementType().equals(DataTypes.LongType)))) {
            throw new Ss2dArgumentException("shapeColumn", name + " of array<int> or array<bigint>", found.simpleString(), null);
        }
        return i;
    }
}
