package org.ss2d.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.ss2d.bindings.CudaDriver;
import org.ss2d.bindings.Cublas;

/**
 * Owner of one GPU's native handles: the retained primary context, the module loaded from the
 * fatbin, the stream every op runs on, and (on first use) a cuBLAS handle bound to that stream.
 * {@link #close()} frees them in reverse order of creation, collecting failures as suppressed
 * exceptions. Device buffers are owned by tensors ({@link DeviceBuffer}); this class counts their
 * bytes so that tests can see leaks.
 */
final class CudaDevice implements AutoCloseable {
    static final String FATBIN = "/org/ss2d/cuda/ss2d_kernels.fatbin";

    final int ordinal;
    /** {@code cuda:N}, as tensors name their device (built once: the facade compares it for every input of an op). */
    final String label;
    final int device;
    final String name;
    final long totalMemory;
    final int smCount;
    final int computeCapability;
    final int sharedPerBlock;
    final int sharedPerBlockOptin;
    final long maxGridX;
    final boolean tf32;
    final MemorySegment context;
    final MemorySegment module;
    final MemorySegment stream;
    final AtomicLong liveBytes = new AtomicLong();
    /** The largest {@link #liveBytes} since the device was opened or {@link #resetPeak} (peak device memory). */
    final AtomicLong peakBytes = new AtomicLong();
    private final Map<String, MemorySegment> functions = new ConcurrentHashMap<>();
    private final Map<String, Integer> raisedSmem = new ConcurrentHashMap<>();
    /** Static shared memory per kernel, asked of the driver once (it is fixed when the module is built). */
    private final Map<String, Integer> staticSmem = new ConcurrentHashMap<>();
    private final Deque<Runnable> closers = new ArrayDeque<>();
    private volatile MemorySegment cublas;
    private volatile boolean closed;
    /** Non-null only while {@link CudaBackend#profileSteps} runs. */
    volatile StepMarks marks;

    private CudaDevice(int ordinal) {
        CudaDriver.requireAvailable();
        this.ordinal = ordinal;
        this.label = "cuda:" + ordinal;
        int count = CudaDriver.deviceCount();
        if (ordinal < 0 || ordinal >= count) {
            throw new IllegalArgumentException("CUDA device: expected 0.." + (count - 1) + " (cuda:N or -Dss2d.cuda.device),"
                    + " found " + ordinal);
        }
        this.device = CudaDriver.device(ordinal);
        this.name = CudaDriver.deviceName(device);
        this.totalMemory = CudaDriver.deviceTotalMemory(device);
        this.smCount = CudaDriver.multiprocessorCount(device);
        this.computeCapability = CudaDriver.computeCapability(device);
        this.sharedPerBlock = CudaDriver.sharedMemoryPerBlock(device);
        this.sharedPerBlockOptin = CudaDriver.sharedMemoryPerBlockOptin(device);
        this.maxGridX = CudaDriver.maxGridDimX(device);
        this.tf32 = Boolean.getBoolean("ss2d.cuda.tf32");
        if (computeCapability < 80) {
            throw new IllegalStateException(name + " has compute capability " + computeCapability / 10 + "."
                    + computeCapability % 10 + "; the kernels are built for 8.0 and newer");
        }
        try {
            this.context = CudaDriver.primaryContextRetain(device);
            closers.push(() -> CudaDriver.primaryContextRelease(device));
            CudaDriver.setCurrent(context);
            this.module = loadModule();
            closers.push(() -> CudaDriver.moduleUnload(module));
            this.stream = CudaDriver.streamCreate();
            closers.push(() -> CudaDriver.streamDestroy(stream));
        } catch (RuntimeException e) {
            closeAll(e);
            throw e;
        }
    }

    static CudaDevice open(int ordinal) {
        return new CudaDevice(ordinal);
    }

    private static MemorySegment loadModule() {
        byte[] image;
        try (InputStream in = CudaDevice.class.getResourceAsStream(FATBIN)) {
            if (in == null) {
                throw new IllegalStateException(FATBIN + " is missing from the class path (a packaging bug: the"
                        + " backend-cuda jar must contain it)");
            }
            image = in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("reading " + FATBIN + ": " + e, e);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(image.length, 16);
            MemorySegment.copy(MemorySegment.ofArray(image), 0, seg, 0, image.length);
            return CudaDriver.moduleLoadData(seg);
        }
    }

    /** Records the end of a block step when profiling; nothing otherwise. */
    void mark(String step) {
        StepMarks m = marks;
        if (m != null) m.mark(this, step);
    }

    /** Makes the context current on the calling thread (cheap; every entry point calls it). */
    void makeCurrent() {
        if (closed) throw new IllegalStateException("the CUDA backend on " + describe() + " is closed");
        CudaDriver.setCurrent(context);
    }

    MemorySegment function(String kernel) {
        return functions.computeIfAbsent(kernel, k -> CudaDriver.function(module, k));
    }

    /**
     * Checks and, above the default 48 KiB, raises a kernel's dynamic shared memory. Returns false
     * when the device cannot give {@code bytes} (static + dynamic) to one block at all.
     */
    boolean ensureSharedMemory(String kernel, MemorySegment fn, int bytes) {
        int total = bytes + staticSmem.computeIfAbsent(kernel, k -> CudaDriver.functionStaticSharedBytes(fn));
        if (total > sharedPerBlockOptin) return false;
        if (bytes > sharedPerBlock && raisedSmem.getOrDefault(kernel, 0) < bytes) {
            CudaDriver.setMaxDynamicSharedBytes(fn, bytes);
            raisedSmem.put(kernel, bytes);
        }
        return true;
    }

    /** The cuBLAS handle on our stream, fp32 (pedantic) unless -Dss2d.cuda.tf32=true. */
    MemorySegment cublas() {
        MemorySegment h = cublas;
        if (h == null) {
            synchronized (this) {
                if (cublas == null) {
                    MemorySegment created = Cublas.create();
                    closers.push(() -> Cublas.destroy(created));
                    Cublas.setStream(created, stream);
                    Cublas.setMathMode(created, tf32);
                    cublas = created;
                }
                h = cublas;
            }
        }
        return h;
    }

    void synchronize() {
        CudaDriver.streamSynchronize(stream);
    }

    /** Counts an allocation or a free (negative) in {@link #liveBytes} and the peak. */
    void countBytes(long delta) {
        long now = liveBytes.addAndGet(delta);
        if (delta > 0) peakBytes.accumulateAndGet(now, Math::max);
    }

    /** Starts a new peak at what is live now. */
    void resetPeak() {
        peakBytes.set(liveBytes.get());
    }

    boolean isOpen() {
        return !closed;
    }

    String describe() {
        return name + " (cuda:" + ordinal + ", sm_" + computeCapability + ", " + smCount + " SMs)";
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        CudaDriver.setCurrent(context);
        try {
            CudaDriver.streamSynchronize(stream);
        } finally {
            closed = true;
            closeAll(null);
        }
    }

    private void closeAll(RuntimeException primary) {
        RuntimeException failure = primary;
        while (!closers.isEmpty()) {
            try {
                closers.pop().run();
            } catch (RuntimeException e) {
                if (failure == null) failure = e; else failure.addSuppressed(e);
            }
        }
        if (failure != null && failure != primary) throw failure;
    }
}
