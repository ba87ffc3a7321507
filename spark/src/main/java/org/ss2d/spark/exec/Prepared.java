package org.ss2d.spark.exec;

import org.apache.spark.sql.Row;

/**
 * One input row made ready for a batch: its values (one sample, channel-major) and their shape without
 * the batch dimension, or the reason it cannot run.
 */
record Prepared(Row row, float[] values, long[] shape, String error) {
    static Prepared ok(Row row, float[] values, long[] shape) {
        return new Prepared(row, values, shape, null);
    }

    static Prepared failed(Row row, String error) {
        return new Prepared(row, null, null, error);
    }
}
