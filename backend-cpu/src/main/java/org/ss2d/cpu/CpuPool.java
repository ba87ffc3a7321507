package org.ss2d.cpu;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

/**
 * The backend's own worker threads (never the common pool: a user's parallel streams must not
 * slow our kernels down, nor ours theirs). {@link #parallelFor} hands out task indices from one
 * counter, so uneven tasks balance; the calling thread works too, so {@code threads = 1} runs inline.
 * Idle workers, and the caller waiting for them, spin for {@link #SPIN_NS} before they park: waking a
 * parked thread costs tens of microseconds on a VM (an IPI to a halted vCPU), and a block runs dozens of
 * short parallel steps back to back (as OpenMP's threads, which also spin before sleeping).
 */
public final class CpuPool implements AutoCloseable {
    private static final AtomicInteger POOLS = new AtomicInteger();
    /** How long an idle worker or a waiting caller spins before parking. */
    static final long SPIN_NS = spinMicros(System.getProperty("ss2d.cpu.spinMicros")) * 1000;

    /**
     * {@code -Dss2d.cpu.spinMicros}: microseconds, 0 to 1,000,000 (100 when unset). A value outside that is only a
     * tuning mistake, not a wrong answer, so the default is used, but with a warning naming the property rather than
     * silently ({@link Long#getLong} said nothing); a class initialiser that threw would leave the backend unusable.
     */
    static long spinMicros(String v) {
        if (v == null || v.isBlank()) return 100;
        try {
            long us = Long.parseLong(v.strip());
            if (us >= 0 && us <= 1_000_000) return us;
        } catch (NumberFormatException e) {
            // reported below
        }
        System.getLogger(CpuPool.class.getName()).log(System.Logger.Level.WARNING,
                "ss2d.cpu.spinMicros: expected microseconds from 0 to 1000000, found \"" + v + "\"; using 100");
        return 100;
    }

    private final int threads;
    private final ThreadPoolExecutor workers;

    public CpuPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads: expected >= 1, found " + threads);
        this.threads = threads;
        if (threads == 1) {
            workers = null;
        } else {
            int id = POOLS.incrementAndGet();
            AtomicInteger n = new AtomicInteger();
            workers = new ThreadPoolExecutor(threads - 1, threads - 1, 60, TimeUnit.SECONDS, new SpinQueue(),
                    r -> {
                        Thread t = new Thread(r, "ss2d-cpu-" + id + "-" + n.incrementAndGet());
                        t.setDaemon(true);
                        return t;
                    });
            workers.allowCoreThreadTimeOut(true);
        }
    }

    public int threads() {
        return threads;
    }

    /** Runs {@code body.accept(i)} for every i in [0, tasks), spread over the pool; returns when all are done. */
    public void parallelFor(int tasks, IntConsumer body) {
        if (tasks <= 0) return;
        if (workers == null || tasks == 1) {
            for (int i = 0; i < tasks; i++) body.accept(i);
            return;
        }
        AtomicInteger next = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        int helpers = Math.min(threads - 1, tasks - 1);
        CountDownLatch done = new CountDownLatch(helpers);
        Runnable loop = () -> {
            try {
                for (int i; failure.get() == null && (i = next.getAndIncrement()) < tasks; ) body.accept(i);
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        };
        for (int h = 0; h < helpers; h++) {
            workers.execute(() -> {
                try {
                    loop.run();
                } finally {
                    done.countDown();
                }
            });
        }
        loop.run();
        for (long end = System.nanoTime() + SPIN_NS; done.getCount() > 0 && System.nanoTime() < end; ) Thread.onSpinWait();
        boolean interrupted = false;
        while (true) {
            try {
                done.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true; // the helpers still touch the caller's tensors: wait for them
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        Throwable t = failure.get();
        if (t instanceof RuntimeException re) throw re;
        if (t instanceof Error er) throw er;
        if (t != null) throw new IllegalStateException(t);
    }

    /** The workers' queue: polls spin for SPIN_NS before they block. */
    private static final class SpinQueue extends LinkedBlockingQueue<Runnable> {
        @Override
        public Runnable poll(long timeout, TimeUnit unit) throws InterruptedException {
            Runnable r = spin();
            return r != null ? r : super.poll(timeout, unit);
        }

        @Override
        public Runnable take() throws InterruptedException {
            Runnable r = spin();
            return r != null ? r : super.take();
        }

        private Runnable spin() {
            long end = System.nanoTime() + SPIN_NS;
            do {
                Runnable r = poll();
                if (r != null) return r;
                Thread.onSpinWait();
            } while (System.nanoTime() < end);
            return null;
        }
    }

    @Override
    public void close() {
        if (workers != null) workers.shutdown();
    }
}
