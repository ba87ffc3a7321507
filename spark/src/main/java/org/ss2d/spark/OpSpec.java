package org.ss2d.spark;

import java.io.Serializable;
import java.util.Objects;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * What {@link Ss2dSpark#run} runs on every executor: one op of a case file (the file {@code ss2d run}
 * takes), applied to each row's tensor. The case file is the template: it names the op
 * ({@code ss2d.kind}), holds its options and its parameters (an SS2D or VSS block's weights), and its own
 * batched input gives the shape every row must have (its dimensions after the batch). Rows are stacked
 * into batches of {@code batchSize} and each output row is the op's output for that row.
 *
 * @param caseFile    the template case file, at a path every executor can read
 * @param tensorColumn the {@code array<float>} column holding each row's input
 * @param shapeColumn the {@code array<int>} or {@code array<bigint>} shape of each row's input (without the batch)
 * @param backend     {@code auto} or a backend name (never falls back)
 * @param threads     worker threads of a host backend, 0 for its default
 * @param batchSize   rows per op call
 * @param failOnError true: a mis-shaped row fails the job; false: null output and an {@code error}
 */
public record OpSpec(String caseFile, String tensorColumn, String shapeColumn, String backend, int threads,
                     int batchSize, boolean failOnError) implements Serializable {
    public OpSpec {
        Objects.requireNonNull(caseFile, "caseFile");
        Objects.requireNonNull(tensorColumn, "tensorColumn");
        Objects.requireNonNull(shapeColumn, "shapeColumn");
        backend = backend == null || backend.isBlank() ? "auto" : backend.trim();
        if (threads < 0) throw new Ss2dArgumentException("threads", "0 (the backend's default) or more", String.valueOf(threads), null);
        if (batchSize < 1) throw new Ss2dArgumentException("batchSize", "1 or more", String.valueOf(batchSize), null);
    }

    /** The op of {@code caseFile} on columns {@code x} and {@code x_shape}, {@code auto} backend, batches of 8. */
    public static OpSpec of(String caseFile) {
        return new OpSpec(caseFile, "x", "x_shape", "auto", 0, 8, false);
    }

    public OpSpec withColumns(String tensor, String shape) {
        return new OpSpec(caseFile, tensor, shape, backend, threads, batchSize, failOnError);
    }

    public OpSpec withBackend(String name) {
        return new OpSpec(caseFile, tensorColumn, shapeColumn, name, threads, batchSize, failOnError);
    }

    public OpSpec withThreads(int n) {
        return new OpSpec(caseFile, tensorColumn, shapeColumn, backend, n, batchSize, failOnError);
    }

    public OpSpec withBatchSize(int n) {
        return new OpSpec(caseFile, tensorColumn, shapeColumn, backend, threads, n, failOnError);
    }

    public OpSpec withFailOnError(boolean fail) {
        return new OpSpec(caseFile, tensorColumn, shapeColumn, backend, threads, batchSize, fail);
    }
}
