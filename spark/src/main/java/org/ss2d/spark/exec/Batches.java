package org.ss2d.spark.exec;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The rows of one partition, lazily, with result columns appended: up to {@code batchSize} input rows are
 * read, each is prepared on its own (a row that cannot be read gets its error, not the batch's), the
 * ready ones of equal shape run as one batch, and the rows come out in input order. Only one batch is
 * held at a time, so a partition of any size streams through in bounded memory.
 *
 * <p>The output of a row depends only on that row and on the batch it ran in, and the batches of a
 * partition depend only on its rows and their order: a task retried after an executor loss recomputes
 * the same rows (the CPU backend's results are also the same whatever the batch, see the tests).
 */
abstract class Batches implements Iterator<Row> {
    private final Iterator<Row> input;
    private final int batchSize;
    private final boolean failOnError;
    private final ArrayDeque<Row> ready = new ArrayDeque<>();
    /** This task's stage clock: {@link #prepare} and {@link #run} lap their own stages on it. */
    final StageTimes.Clock clock = new StageTimes.Clock();
    private boolean done;

    Batches(Iterator<Row> input, int batchSize, boolean failOnError) {
        this.input = input;
        this.batchSize = batchSize;
        this.failOnError = failOnError;
        TaskContext tc = TaskContext.get();
        if (tc != null) tc.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) ctx -> clock.finish());
    }

    /**
     * Reads one row; {@link Prepared#failed} (or an {@link Ss2dArgumentException}) for a row that cannot run.
     * Time not lapped on {@link #clock} inside it counts as {@code PREPROCESS}.
     */
    abstract Prepared prepare(Row row);

    /**
     * Runs one batch of ready rows of one shape; returns each row's result columns, in order. An
     * {@link Ss2dArgumentException} (the engine rejecting the batch's shape, say) becomes every row's error.
     * It laps {@code MODEL_WAIT}, {@code MODEL_CALL} and {@code CONVERT} on {@link #clock} as it goes.
     */
    abstract List<Object[]> run(List<Prepared> batch, long[] shape);

    /** How many result columns precede {@code error}. */
    abstract int resultColumns();

    @Override
    public boolean hasNext() {
        if (done) return false;
        // Since the last row went out, the thread was downstream: Spark's encoder and the sink.
        clock.lap(StageTimes.Stage.WRITE);
        if (ready.isEmpty()) {
            boolean more = input.hasNext();
            clock.lap(StageTimes.Stage.READ);
            if (more) fill();
        }
        if (ready.isEmpty()) {
            done = true;
            clock.end(StageTimes.Stage.CONVERT);
            return false;
        }
        clock.lap(StageTimes.Stage.CONVERT);
        return true;
    }

    @Override
    public Row next() {
        if (!hasNext()) throw new NoSuchElementException();
        return ready.poll();
    }

    private void fill() {
        List<Prepared> rows = new ArrayList<>(batchSize);
        while (rows.size() < batchSize) {
            boolean more = !rows.isEmpty() ? input.hasNext() : true; // hasNext() has just said yes for the first
            Row r = more ? input.next() : null;
            clock.lap(StageTimes.Stage.READ);
            if (!more) break;
            Prepared p;
            try {
                p = prepare(r);
            } catch (Ss2dArgumentException e) {
                p = Prepared.failed(r, e.getMessage());
            }
            clock.lap(StageTimes.Stage.PREPROCESS);
            StageTimes.ROWS.increment();
            if (p.error() != null && failOnError) throw new Ss2dArgumentException("row", p.error());
            rows.add(p);
        }
        // Ready rows grouped by shape, in order of first appearance (images all share one shape).
        Map<String, List<Integer>> groups = new LinkedHashMap<>();
        for (int i = 0; i < rows.size(); i++) {
            if (rows.get(i).error() == null) groups.computeIfAbsent(Arrays.toString(rows.get(i).shape()), k -> new ArrayList<>()).add(i);
        }
        Object[][] results = new Object[rows.size()][];
        String[] errors = new String[rows.size()];
        for (int i = 0; i < rows.size(); i++) errors[i] = rows.get(i).error();
        for (List<Integer> g : groups.values()) {
            List<Prepared> batch = new ArrayList<>(g.size());
            for (int i : g) batch.add(rows.get(i));
            clock.lap(StageTimes.Stage.CONVERT);
            try {
                List<Object[]> out = run(batch, batch.getFirst().shape());
                StageTimes.BATCHES.increment();
                for (int j = 0; j < g.size(); j++) results[g.get(j)] = out.get(j);
            } catch (Ss2dArgumentException e) {
                if (failOnError) throw e;
                for (int i : g) errors[i] = e.getMessage();
            }
        }
        for (int i = 0; i < rows.size(); i++) ready.add(append(rows.get(i).row(), results[i], errors[i]));
    }

    private Row append(Row in, Object[] result, String error) {
        int n = in.length(), k = resultColumns();
        Object[] v = new Object[n + k + 1];
        for (int i = 0; i < n; i++) v[i] = in.get(i);
        if (result != null) System.arraycopy(result, 0, v, n, k);
        v[n + k] = error;
        return RowFactory.create(v);
    }
}
