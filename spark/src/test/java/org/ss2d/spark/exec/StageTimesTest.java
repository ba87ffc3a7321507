package org.ss2d.spark.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class StageTimesTest {
    /**
     * A task that completes before its partition's last row (a failure, or a consumer that stopped early) is no
     * longer running: the next job's count of tasks at once starts from zero, not from the tasks left over.
     */
    @Test
    void aTaskThatEndsEarlyIsNoLongerRunning() {
        StageTimes.reset();
        StageTimes.Clock failed = new StageTimes.Clock();
        StageTimes.Clock finished = new StageTimes.Clock();
        assertEquals(2, StageTimes.snapshot().maxRunning(), "two clocks started");
        finished.end(StageTimes.Stage.CONVERT);
        finished.finish();
        failed.finish();                               // Spark's completion listener, without a last row
        StageTimes.reset();
        assertEquals(0, StageTimes.snapshot().maxRunning(), "after reset, with no task running");
        StageTimes.Clock next = new StageTimes.Clock();
        assertEquals(1, StageTimes.snapshot().maxRunning(), "the next job's one task");
        next.end(StageTimes.Stage.CONVERT);
        next.finish();
        StageTimes.reset();
    }
}
