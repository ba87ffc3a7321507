package org.ss2d.spark.exec;

import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;

/**
 * Where an executor JVM's time goes, summed over its tasks since the last {@link #reset()}: reading and
 * preprocessing rows, model or op calls (including the wait for the executor's one model), and rows
 * done. For the scaling note and the throughput benchmark; cheap enough to be always on (two clock
 * reads per row and per batch).
 */
public final class StageTimes {
    private StageTimes() {}

    static final LongAdder PREPARE_NANOS = new LongAdder();
    static final LongAdder RUN_NANOS = new LongAdder();
    static final LongAdder ROWS = new LongAdder();
    static final LongAdder BATCHES = new LongAdder();

    public static void reset() {
        PREPARE_NANOS.reset();
        RUN_NANOS.reset();
        ROWS.reset();
        BATCHES.reset();
    }

    /** {@code rows, batches, prepare ms/row, run ms/row} of this JVM's tasks (thread time summed: tasks overlap). */
    public static String summary() {
        long rows = Math.max(1, ROWS.sum());
        return String.format(Locale.ROOT, "%d rows in %d batches: read+preprocess %.1f ms/row, model/op call %.1f ms/row"
                + " (summed over task threads)", ROWS.sum(), BATCHES.sum(), PREPARE_NANOS.sum() / 1e6 / rows, RUN_NANOS.sum() / 1e6 / rows);
    }
}
