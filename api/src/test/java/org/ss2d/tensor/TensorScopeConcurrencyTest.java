package org.ss2d.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** A scope closed (or released) from several threads at once is closed exactly once. */
class TensorScopeConcurrencyTest {
    private static final int TRIALS = 2000;

    @Test
    void aLeakIsReportedOnceWhenTwoThreadsCloseTogether() throws Exception {
        int twice = 0, never = 0;
        for (int trial = 0; trial < TRIALS; trial++) {
            TensorScope root = TensorScope.root("race" + trial);
            root.allocate(DType.F32, 4);
            root.child("kid").allocate(DType.F32, 2);
            AtomicInteger reports = new AtomicInteger();
            CyclicBarrier start = new CyclicBarrier(2);
            Runnable closer = () -> {
                try {
                    start.await();
                    root.close();
                } catch (IllegalStateException e) {
                    reports.incrementAndGet();
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            };
            Thread a = new Thread(closer), b = new Thread(closer);
            a.start();
            b.start();
            a.join();
            b.join();
            if (reports.get() > 1) twice++;
            if (reports.get() == 0) never++;
            assertTrue(root.isClosed());
            assertEquals(0, root.liveBytes(), "trial " + trial + ": tensors left live");
        }
        assertEquals(0, twice, "trials (of " + TRIALS + ") where the leak was reported by both closing threads");
        assertEquals(0, never, "trials (of " + TRIALS + ") where no thread reported the leak");
    }

    @Test
    void concurrentReleaseFreesEverythingWithoutAReport() throws Exception {
        for (int trial = 0; trial < 500; trial++) {
            TensorScope root = TensorScope.root("rel" + trial);
            for (int i = 0; i < 4; i++) root.allocate(DType.F32, 3);
            AtomicInteger failures = new AtomicInteger();
            CyclicBarrier start = new CyclicBarrier(2);
            Runnable releaser = () -> {
                try {
                    start.await();
                    root.release();
                } catch (Exception e) {
                    failures.incrementAndGet();
                }
            };
            Thread a = new Thread(releaser), b = new Thread(releaser);
            a.start();
            b.start();
            a.join();
            b.join();
            assertEquals(0, failures.get(), "trial " + trial + ": release() from two threads threw");
            assertTrue(root.isClosed());
        }
    }
}
