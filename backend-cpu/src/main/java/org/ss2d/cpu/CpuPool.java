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
 */
public final class CpuPool implements AutoCloseable {
    private static final AtomicInteger POOLS = new AtomicInteger();

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
            workers = new ThreadPoolExecutor(threads - 1, threads - 1, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
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

    @Override
    public void close() {
        if (workers != null) workers.shutdown();
    }
}
