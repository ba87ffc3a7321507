package org.ss2d.spark;

import java.io.Serializable;
import java.util.Objects;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * What {@link Ss2dSpark#classify} and {@link Ss2dSpark#features} run on every executor: a VMamba
 * checkpoint (safetensors, memory-mapped from a path every executor can read), how rows are batched and
 * preprocessed, and which backend runs it. Immutable and {@link Serializable}: Spark ships it to the
 * executors inside the partition function. Start with {@link #of(String)}; each {@code withX} returns a copy.
 *
 * @param weights      the safetensors checkpoint; the same path on every executor (shared or copied file system)
 * @param model        a released configuration name the weights must hold, or null to take whatever they hold
 * @param backend      {@code auto} (the best available on each executor) or a backend name, which never falls back
 * @param threads      worker threads of a host backend, 0 for its default (the executor's processors)
 * @param batchSize    rows per model call, per partition (the last batch of a partition may be smaller)
 * @param topK         classes kept in {@code top_classes}/{@code top_probs}; 0 for no top-k columns
 * @param imageColumn  the binary column of encoded images (Spark's {@code binaryFile} source calls it {@code content})
 * @param labelColumn  a string column naming each row in error messages ({@code path} for {@code binaryFile}), or null
 * @param tensorColumn instead of images: an {@code array<float>} column of preprocessed {@code (3, H, W)} tensors, or null
 * @param shapeColumn  with {@code tensorColumn}: the {@code array<int>} or {@code array<bigint>} shape of each tensor
 * @param resize       preprocessing: the shorter side is resized to this (VMamba's evaluation transform: 256)
 * @param crop         preprocessing: then centre-cropped to {@code crop x crop} (224)
 * @param failOnError  true: a row that cannot be read fails the job; false: it gets null results and an {@code error}
 */
public record ModelSpec(String weights, String model, String backend, int threads, int batchSize, int topK,
                        String imageColumn, String labelColumn, String tensorColumn, String shapeColumn,
                        int resize, int crop, boolean failOnError) implements Serializable {
    public ModelSpec {
        Objects.requireNonNull(weights, "weights");
        backend = backend == null || backend.isBlank() ? "auto" : backend.trim();
        if (threads < 0) throw new Ss2dArgumentException("threads", "0 (the backend's default) or more", String.valueOf(threads), null);
        if (batchSize < 1) throw new Ss2dArgumentException("batchSize", "1 or more", String.valueOf(batchSize), null);
        if (topK < 0) throw new Ss2dArgumentException("topK", "0 (no top-k columns) or more", String.valueOf(topK), null);
        if (crop < 1 || resize < crop) {
            throw new Ss2dArgumentException("resize/crop", "1 <= crop <= resize", resize + "/" + crop, null);
        }
        if (imageColumn == null && tensorColumn == null) {
            throw new Ss2dArgumentException("imageColumn", "an image column or a tensor column", "neither", null);
        }
        if (tensorColumn != null && shapeColumn == null) {
            throw new Ss2dArgumentException("shapeColumn", "the shape column of tensor column " + tensorColumn, "none", null);
        }
    }

    /** The checkpoint at {@code weights} on the {@code auto} backend, batches of 8, top 5, images in {@code content}. */
    public static ModelSpec of(String weights) {
        return new ModelSpec(weights, null, "auto", 0, 8, 5, "content", "path", null, null, 256, 224, false);
    }

    public ModelSpec withModel(String name) {
        return new ModelSpec(weights, name, backend, threads, batchSize, topK, imageColumn, labelColumn, tensorColumn,
                shapeColumn, resize, crop, failOnError);
    }

    public ModelSpec withBackend(String name) {
        return new ModelSpec(weights, model, name, threads, batchSize, topK, imageColumn, labelColumn, tensorColumn,
                shapeColumn, resize, crop, failOnError);
    }

    public ModelSpec withThreads(int n) {
        return new ModelSpec(weights, model, backend, n, batchSize, topK, imageColumn, labelColumn, tensorColumn,
                shapeColumn, resize, crop, failOnError);
    }

    public ModelSpec withBatchSize(int n) {
        return new ModelSpec(weights, model, backend, threads, n, topK, imageColumn, labelColumn, tensorColumn,
                shapeColumn, resize, crop, failOnError);
    }

    public ModelSpec withTopK(int k) {
        return new ModelSpec(weights, model, backend, threads, batchSize, k, imageColumn, labelColumn, tensorColumn,
                shapeColumn, resize, crop, failOnError);
    }

    /** Images from {@code binaryColumn}, rows named by {@code label} (may be null) in errors. */
    public ModelSpec withImages(String binaryColumn, String label) {
        return new ModelSpec(weights, model, backend, threads, batchSize, topK, binaryColumn, label, null, null,
                resize, crop, failOnError);
    }

    /** Preprocessed tensors from {@code tensor} ({@code array<float>}) with their shapes in {@code shape}. */
    public ModelSpec withTensors(String tensor, String shape) {
        return new ModelSpec(weights, model, backend, threads, batchSize, topK, null, labelColumn, tensor, shape,
                resize, crop, failOnError);
    }

    public ModelSpec withPreprocessing(int resizeTo, int cropTo) {
        return new ModelSpec(weights, model, backend, threads, batchSize, topK, imageColumn, labelColumn, tensorColumn,
                shapeColumn, resizeTo, cropTo, failOnError);
    }

    public ModelSpec withFailOnError(boolean fail) {
        return new ModelSpec(weights, model, backend, threads, batchSize, topK, imageColumn, labelColumn, tensorColumn,
                shapeColumn, resize, crop, fail);
    }

    /** True when rows hold tensors rather than encoded images. */
    public boolean tensors() {
        return tensorColumn != null;
    }
}
