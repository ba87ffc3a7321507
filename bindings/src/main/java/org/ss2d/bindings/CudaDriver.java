package org.ss2d.bindings;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import org.ss2d.bindings.cuda.CudaH;

/**
 * The one door to the CUDA driver API. Nothing outside this class calls the generated
 * {@link CudaH}; every status goes through {@link #check(int, String)}.
 *
 * <p>{@link #probe()} must succeed before any other method: it opens {@code libcuda.so.1} through
 * its own lookup and calls {@code cuInit}, {@code cuDriverGetVersion} and {@code cuDeviceGetCount}
 * with handles of its own, so a machine without a driver gets a reason in words instead of the
 * generated class failing its static initialiser for good.
 *
 * <p>Handles ({@code CUcontext}, {@code CUmodule}, {@code CUfunction}, {@code CUstream},
 * {@code CUevent}) travel as {@link MemorySegment} addresses, device pointers as {@code long}.
 * The owners that free them live in the backend (org.ss2d.cuda).
 */
public final class CudaDriver {
    /** The CUDA version the bindings and the fatbin were built for (cuda.h CUDA_VERSION). */
    public static final int CUDA_VERSION_BUILT = 13000;
    public static final String LIBRARY = "libcuda.so.1";
    // cuda.h's CUdevice_attribute values, repeated here because the probe must not touch CudaH
    // (its static initialiser fails for good when the library is missing); CudaDriverProbeTest
    // checks them against the generated constants.
    static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

    private CudaDriver() {}

    /** Outcome of {@link #probe()}: available, or a reason a user can act on. */
    public record Probe(boolean available, String reason, int driverVersion, int deviceCount) {
        public static Probe no(String reason) {
            return new Probe(false, reason, 0, 0);
        }
    }

    private static volatile Probe probe;

    /** Loads the driver and checks it once per process; cheap after the first call. */
    public static Probe probe() {
        Probe p = probe;
        if (p == null) {
            synchronized (CudaDriver.class) {
                if (probe == null) probe = doProbe();
                p = probe;
            }
        }
        return p;
    }

    /** Throws {@link IllegalStateException} with the probe's reason unless the driver is usable. */
    /**
     * The device ordinal of {@code -Dss2d.cuda.device} (0 when unset or blank). A value that is not an integer
     * {@code >= 0} is an error naming the property: {@link Integer#getInteger} would have fallen back to device 0
     * without a word, and the work would run on a device nobody asked for.
     */
    public static int deviceProperty() {
        String v = System.getProperty("ss2d.cuda.device");
        if (v == null || v.isBlank()) return 0;
        try {
            int ordinal = Integer.parseInt(v.strip());
            if (ordinal >= 0) return ordinal;
        } catch (NumberFormatException e) {
            // reported below, with the value
        }
        throw new IllegalArgumentException("ss2d.cuda.device: expected a device ordinal (an integer >= 0), found \"" + v + "\"");
    }

    public static void requireAvailable() {
        Probe p = probe();
        if (!p.available()) throw new IllegalStateException("CUDA unavailable: " + p.reason());
    }

    private static Probe doProbe() {
        if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
            return Probe.no("the CUDA backend is built for Linux (" + LIBRARY + "); this is "
                    + System.getProperty("os.name"));
        }
        SymbolLookup lib;
        try {
            // On the global arena: the library stays loaded for the life of the process. An automatic
            // arena would be dropped when the probe returns, and after a garbage collection the
            // driver that cuInit set up could be unloaded under the generated bindings' calls.
            lib = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
        } catch (IllegalArgumentException e) {
            return Probe.no(LIBRARY + " not found (no NVIDIA driver on this machine, or it is not on the loader path)");
        }
        try {
            Linker linker = Linker.nativeLinker();
            MethodHandle init = linker.downcallHandle(lib.findOrThrow("cuInit"), FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            MethodHandle version = linker.downcallHandle(lib.findOrThrow("cuDriverGetVersion"),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS));
            MethodHandle count = linker.downcallHandle(lib.findOrThrow("cuDeviceGetCount"),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS));
            MethodHandle errName = linker.downcallHandle(lib.findOrThrow("cuGetErrorName"),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
            MethodHandle deviceGet = linker.downcallHandle(lib.findOrThrow("cuDeviceGet"),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
            MethodHandle attribute = linker.downcallHandle(lib.findOrThrow("cuDeviceGetAttribute"),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(JAVA_INT);
                int st = (int) init.invokeExact(0);
                if (st != 0) {
                    MemorySegment pName = a.allocate(ADDRESS);
                    String name = (int) errName.invokeExact(st, pName) == 0
                            ? pName.get(ADDRESS, 0).reinterpret(256).getString(0) : "CUresult " + st;
                    return Probe.no("cuInit failed: " + name);
                }
                st = (int) version.invokeExact(out);
                int drv = st == 0 ? out.get(JAVA_INT, 0) : 0;
                if (drv < CUDA_VERSION_BUILT) {
                    return new Probe(false, "the driver supports CUDA " + versionText(drv) + "; the kernels need "
                            + versionText(CUDA_VERSION_BUILT) + " or newer (update the NVIDIA driver)", drv, 0);
                }
                st = (int) count.invokeExact(out);
                int n = st == 0 ? out.get(JAVA_INT, 0) : 0;
                if (n == 0) return new Probe(false, "no CUDA device (driver " + versionText(drv) + ")", drv, 0);
                // The fatbin has SASS from sm_80 and PTX for compute_90: older GPUs cannot run it.
                int ordinal;
                try {
                    ordinal = deviceProperty();
                } catch (IllegalArgumentException e) {
                    return new Probe(false, e.getMessage(), drv, n);
                }
                if (ordinal >= n) {
                    return new Probe(false, "ss2d.cuda.device=" + ordinal + " but the machine has " + n
                            + " CUDA device(s)", drv, n);
                }
                st = (int) deviceGet.invokeExact(out, ordinal);
                int dev = out.get(JAVA_INT, 0);
                int major = st == 0 && (int) attribute.invokeExact(out, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev) == 0
                        ? out.get(JAVA_INT, 0) : -1;
                int minor = st == 0 && (int) attribute.invokeExact(out, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev) == 0
                        ? out.get(JAVA_INT, 0) : 0;
                if (major < 0) return new Probe(false, "cannot read the compute capability of CUDA device " + ordinal, drv, n);
                if (major < 8) {
                    return new Probe(false, "CUDA device " + ordinal + " has compute capability " + major + "." + minor
                            + "; the kernels are built for 8.0 (Ampere) and newer", drv, n);
                }
                return new Probe(true, "", drv, n);
            }
        } catch (Throwable t) {
            return Probe.no("probing " + LIBRARY + " failed: " + t);
        }
    }

    public static String versionText(int v) {
        return (v / 1000) + "." + (v % 1000) / 10;
    }

    // ------------------------------------------------------------------------------ errors

    /** Turns a {@code CUresult} into a {@link CudaException} (or its OOM subclass) naming the call. */
    public static void check(int status, String call) {
        if (status != 0) throw error(status, call, null);
    }

    /** Same, with extra context (sizes, kernel name) appended to the message. */
    public static void check(int status, String call, String context) {
        if (status != 0) throw error(status, call, context);
    }

    public static CudaException error(int status, String call, String context) {
        String name = "CUresult " + status, text = "unknown error";
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            if (CudaH.cuGetErrorName(status, p) == 0) name = p.get(ADDRESS, 0).reinterpret(256).getString(0);
            if (CudaH.cuGetErrorString(status, p) == 0) text = p.get(ADDRESS, 0).reinterpret(1024).getString(0);
        }
        return status == CudaH.CUDA_ERROR_OUT_OF_MEMORY()
                ? new CudaOutOfMemoryException(call, status, name, text, context)
                : new CudaException(call, status, name, text, context);
    }

    // ------------------------------------------------------------------------------ devices

    public static int driverVersion() {
        return probe().driverVersion();
    }

    public static int deviceCount() {
        return probe().deviceCount();
    }

    /** {@code CUdevice} of an ordinal. */
    public static int device(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            check(CudaH.cuDeviceGet(p, ordinal), "cuDeviceGet", "ordinal " + ordinal);
            return p.get(JAVA_INT, 0);
        }
    }

    public static String deviceName(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(256);
            check(CudaH.cuDeviceGetName(p, 256, device), "cuDeviceGetName");
            return p.getString(0);
        }
    }

    public static long deviceTotalMemory(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            check(CudaH.cuDeviceTotalMem_v2(p, device), "cuDeviceTotalMem_v2");
            return p.get(JAVA_LONG, 0);
        }
    }

    public static int attribute(int device, int attribute) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            check(CudaH.cuDeviceGetAttribute(p, attribute, device), "cuDeviceGetAttribute", "attribute " + attribute);
            return p.get(JAVA_INT, 0);
        }
    }

    public static int multiprocessorCount(int device) {
        return attribute(device, CudaH.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT());
    }

    /** Largest dynamic + static shared memory one block may opt in to. */
    public static int sharedMemoryPerBlockOptin(int device) {
        return attribute(device, CudaH.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN());
    }

    /** Shared memory a block gets without opting in (48 KiB). */
    public static int sharedMemoryPerBlock(int device) {
        return attribute(device, CudaH.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK());
    }

    public static int computeCapability(int device) {
        return 10 * attribute(device, CudaH.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR())
                + attribute(device, CudaH.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR());
    }

    public static int maxGridDimX(int device) {
        return attribute(device, CudaH.CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X());
    }

    // ------------------------------------------------------------------------------ contexts

    /** Retains the device's primary context; pair with {@link #primaryContextRelease(int)}. */
    public static MemorySegment primaryContextRetain(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check(CudaH.cuDevicePrimaryCtxRetain(p, device), "cuDevicePrimaryCtxRetain");
            return p.get(ADDRESS, 0);
        }
    }

    public static void primaryContextRelease(int device) {
        check(CudaH.cuDevicePrimaryCtxRelease_v2(device), "cuDevicePrimaryCtxRelease_v2");
    }

    public static void setCurrent(MemorySegment context) {
        check(CudaH.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    public static MemorySegment current() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check(CudaH.cuCtxGetCurrent(p), "cuCtxGetCurrent");
            return p.get(ADDRESS, 0);
        }
    }

    public static void synchronize() {
        check(CudaH.cuCtxSynchronize(), "cuCtxSynchronize");
    }

    // ------------------------------------------------------------------------------ modules

    /** Loads a fatbin/cubin image (must stay readable during the call only). */
    public static MemorySegment moduleLoadData(MemorySegment image) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check(CudaH.cuModuleLoadData(p, image), "cuModuleLoadData",
                    "the fatbin holds SASS for sm_80, sm_86, sm_89, sm_90 and PTX for compute_90");
            return p.get(ADDRESS, 0);
        }
    }

    public static void moduleUnload(MemorySegment module) {
        check(CudaH.cuModuleUnload(module), "cuModuleUnload");
    }

    public static MemorySegment function(MemorySegment module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check(CudaH.cuModuleGetFunction(p, module, a.allocateFrom(name)), "cuModuleGetFunction", name);
            return p.get(ADDRESS, 0);
        }
    }

    public static int functionAttribute(MemorySegment function, int attribute) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            check(CudaH.cuFuncGetAttribute(p, attribute, function), "cuFuncGetAttribute");
            return p.get(JAVA_INT, 0);
        }
    }

    /** Static shared memory of a kernel, in bytes. */
    public static int functionStaticSharedBytes(MemorySegment function) {
        return functionAttribute(function, CudaH.CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES());
    }

    public static int functionRegisters(MemorySegment function) {
        return functionAttribute(function, CudaH.CU_FUNC_ATTRIBUTE_NUM_REGS());
    }

    /** Raises a kernel's dynamic shared-memory limit (needed above 48 KiB). */
    public static void setMaxDynamicSharedBytes(MemorySegment function, int bytes) {
        check(CudaH.cuFuncSetAttribute(function, CudaH.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES(), bytes),
                "cuFuncSetAttribute", "MAX_DYNAMIC_SHARED_SIZE_BYTES=" + bytes);
    }

    public static int occupancyBlocksPerSm(MemorySegment function, int blockSize, long dynamicSmem) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            check(CudaH.cuOccupancyMaxActiveBlocksPerMultiprocessor(p, function, blockSize, dynamicSmem),
                    "cuOccupancyMaxActiveBlocksPerMultiprocessor");
            return p.get(JAVA_INT, 0);
        }
    }

    /**
     * Launches {@code function}; {@code params} is the {@code void**} array of pointers to each
     * argument, as {@code cuLaunchKernel} wants it. {@code name} only feeds the error message.
     */
    public static void launch(MemorySegment function, String name, long gridX, int gridY, int blockX, int blockY,
                              int sharedBytes, MemorySegment stream, MemorySegment params) {
        if (gridX < 1 || gridX > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(name + ": grid of " + gridX + " blocks, expected 1.."
                    + Integer.MAX_VALUE + " (the grid's x limit)");
        }
        int st = CudaH.cuLaunchKernel(function, (int) gridX, gridY, 1, blockX, blockY, 1, sharedBytes, stream, params,
                MemorySegment.NULL);
        if (st != 0) {
            throw error(st, "cuLaunchKernel", name + " grid " + gridX + "x" + gridY + " block " + blockX + "x" + blockY
                    + " smem " + sharedBytes);
        }
    }

    // ------------------------------------------------------------------------------ memory

    /** {@code cuMemAlloc}; a failure for lack of memory is a {@link CudaOutOfMemoryException}. */
    public static long memAlloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            check(CudaH.cuMemAlloc_v2(p, Math.max(bytes, 1)), "cuMemAlloc_v2", bytes + " bytes");
            return p.get(JAVA_LONG, 0);
        }
    }

    public static void memFree(long devicePointer) {
        check(CudaH.cuMemFree_v2(devicePointer), "cuMemFree_v2");
    }

    /** {free, total} device memory in bytes. */
    public static long[] memInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(JAVA_LONG), t = a.allocate(JAVA_LONG);
            check(CudaH.cuMemGetInfo_v2(f, t), "cuMemGetInfo_v2");
            return new long[] {f.get(JAVA_LONG, 0), t.get(JAVA_LONG, 0)};
        }
    }

    public static void copyHostToDevice(long dst, MemorySegment src, long bytes, MemorySegment stream) {
        if (bytes == 0) return;
        if (stream == null) check(CudaH.cuMemcpyHtoD_v2(dst, src, bytes), "cuMemcpyHtoD_v2", bytes + " bytes");
        else check(CudaH.cuMemcpyHtoDAsync_v2(dst, src, bytes, stream), "cuMemcpyHtoDAsync_v2", bytes + " bytes");
    }

    public static void copyDeviceToHost(MemorySegment dst, long src, long bytes, MemorySegment stream) {
        if (bytes == 0) return;
        if (stream == null) check(CudaH.cuMemcpyDtoH_v2(dst, src, bytes), "cuMemcpyDtoH_v2", bytes + " bytes");
        else check(CudaH.cuMemcpyDtoHAsync_v2(dst, src, bytes, stream), "cuMemcpyDtoHAsync_v2", bytes + " bytes");
    }

    public static void copyDeviceToDevice(long dst, long src, long bytes, MemorySegment stream) {
        if (bytes == 0) return;
        if (stream == null) check(CudaH.cuMemcpyDtoD_v2(dst, src, bytes), "cuMemcpyDtoD_v2", bytes + " bytes");
        else check(CudaH.cuMemcpyDtoDAsync_v2(dst, src, bytes, stream), "cuMemcpyDtoDAsync_v2", bytes + " bytes");
    }

    /** Fills {@code count} 32-bit words (float bit patterns: NaN poison in tests). */
    public static void memsetD32(long dst, int value, long count, MemorySegment stream) {
        if (count == 0) return;
        if (stream == null) check(CudaH.cuMemsetD32_v2(dst, value, count), "cuMemsetD32_v2");
        else check(CudaH.cuMemsetD32Async(dst, value, count, stream), "cuMemsetD32Async");
    }

    public static void memsetD8(long dst, byte value, long count, MemorySegment stream) {
        if (count == 0) return;
        if (stream == null) check(CudaH.cuMemsetD8_v2(dst, value, count), "cuMemsetD8_v2");
        else check(CudaH.cuMemsetD8Async(dst, value, count, stream), "cuMemsetD8Async");
    }

    /** Page-locks host memory so copies run at full speed; pair with {@link #hostUnregister}. */
    public static void hostRegister(MemorySegment host) {
        check(CudaH.cuMemHostRegister_v2(host, host.byteSize(), CudaH.CU_MEMHOSTREGISTER_PORTABLE()),
                "cuMemHostRegister_v2", host.byteSize() + " bytes");
    }

    public static void hostUnregister(MemorySegment host) {
        check(CudaH.cuMemHostUnregister(host), "cuMemHostUnregister");
    }

    // ------------------------------------------------------------------------------ streams, events

    public static MemorySegment streamCreate() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check(CudaH.cuStreamCreate(p, CudaH.CU_STREAM_NON_BLOCKING()), "cuStreamCreate");
            return p.get(ADDRESS, 0);
        }
    }

    public static void streamDestroy(MemorySegment stream) {
        check(CudaH.cuStreamDestroy_v2(stream), "cuStreamDestroy_v2");
    }

    public static void streamSynchronize(MemorySegment stream) {
        check(CudaH.cuStreamSynchronize(stream), "cuStreamSynchronize");
    }

    public static void streamWaitEvent(MemorySegment stream, MemorySegment event) {
        check(CudaH.cuStreamWaitEvent(stream, event, 0), "cuStreamWaitEvent");
    }

    public static MemorySegment eventCreate(boolean timing) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check(CudaH.cuEventCreate(p, timing ? CudaH.CU_EVENT_DEFAULT() : CudaH.CU_EVENT_DISABLE_TIMING()),
                    "cuEventCreate");
            return p.get(ADDRESS, 0);
        }
    }

    public static void eventRecord(MemorySegment event, MemorySegment stream) {
        check(CudaH.cuEventRecord(event, stream), "cuEventRecord");
    }

    public static void eventSynchronize(MemorySegment event) {
        check(CudaH.cuEventSynchronize(event), "cuEventSynchronize");
    }

    public static float eventElapsedMs(MemorySegment start, MemorySegment end) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_FLOAT);
            check(CudaH.cuEventElapsedTime_v2(p, start, end), "cuEventElapsedTime_v2");
            return p.get(JAVA_FLOAT, 0);
        }
    }

    public static void eventDestroy(MemorySegment event) {
        check(CudaH.cuEventDestroy_v2(event), "cuEventDestroy_v2");
    }

    // ------------------------------------------------------------------------------ stream memory operations

    /** cuda.h's {@code CU_MEMHOSTREGISTER_DEVICEMAP}: the registered pages get a device address. */
    static final int CU_MEMHOSTREGISTER_DEVICEMAP = 0x02;
    /** cuda.h's {@code CU_STREAM_WAIT_VALUE_GEQ}: wait until {@code (int32_t)(*addr - value) >= 0}, a cyclic comparison. */
    static final int CU_STREAM_WAIT_VALUE_GEQ = 0x0;

    /**
     * Neither the stream memory operations nor {@code cuMemHostGetDevicePointer} are in the generated bindings: looked
     * up here by hand, on first use only. CUDA 12 and 13 export them as {@code _v2} (the unsuffixed stream operations
     * are the old ones that needed {@code CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_MEM_OPS_V1}).
     */
    private static final class MemOps {
        static final MethodHandle WAIT, WRITE, DEVICE_POINTER;

        static {
            requireAvailable();
            SymbolLookup lib = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
            Linker linker = Linker.nativeLinker();
            // CUresult cuStreamWaitValue32(CUstream, CUdeviceptr addr, cuuint32_t value, unsigned flags), same for Write
            FunctionDescriptor op = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT);
            WAIT = linker.downcallHandle(lib.findOrThrow("cuStreamWaitValue32_v2"), op);
            WRITE = linker.downcallHandle(lib.findOrThrow("cuStreamWriteValue32_v2"), op);
            // CUresult cuMemHostGetDevicePointer(CUdeviceptr *pdptr, void *p, unsigned Flags)
            DEVICE_POINTER = linker.downcallHandle(lib.findOrThrow("cuMemHostGetDevicePointer_v2"),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        }
    }

    /**
     * Page-locks {@code host} and maps it into the device's address space ({@code PORTABLE | DEVICEMAP}); returns the
     * device address of its first byte, for the stream memory operations. Pair with {@link #hostUnregister}.
     */
    public static long hostRegisterMapped(MemorySegment host) {
        check(CudaH.cuMemHostRegister_v2(host, host.byteSize(), CudaH.CU_MEMHOSTREGISTER_PORTABLE() | CU_MEMHOSTREGISTER_DEVICEMAP),
                "cuMemHostRegister_v2", host.byteSize() + " bytes, PORTABLE | DEVICEMAP");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            check((int) MemOps.DEVICE_POINTER.invokeExact(p, host, 0), "cuMemHostGetDevicePointer_v2");
            return p.get(JAVA_LONG, 0);
        } catch (RuntimeException | Error e) {
            try {
                hostUnregister(host);
            } catch (RuntimeException x) {
                e.addSuppressed(x);
            }
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cuMemHostGetDevicePointer_v2: " + t, t);
        }
    }

    /**
     * Makes {@code stream} wait, on the device, until the 32-bit word at device address {@code address} is at or
     * past {@code value} in cyclic order ({@code (int32_t)(word - value) >= 0}), so counters may wrap around.
     */
    public static void streamWaitValue32(MemorySegment stream, long address, int value) {
        try {
            check((int) MemOps.WAIT.invokeExact(stream, address, value, CU_STREAM_WAIT_VALUE_GEQ), "cuStreamWaitValue32_v2");
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cuStreamWaitValue32_v2: " + t, t);
        }
    }

    /** Queues a write of {@code value} to the word at {@code address}, after the work queued on {@code stream} before it. */
    public static void streamWriteValue32(MemorySegment stream, long address, int value) {
        try {
            check((int) MemOps.WRITE.invokeExact(stream, address, value, 0), "cuStreamWriteValue32_v2");
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cuStreamWriteValue32_v2: " + t, t);
        }
    }

    // ------------------------------------------------------------------------------ IPC

    /** Bytes of a {@code CUipcMemHandle} (cuda.h: {@code CU_IPC_HANDLE_SIZE}). */
    public static final int IPC_HANDLE_SIZE = 64;
    private static final int CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS = 1;

    /**
     * The IPC calls are not in the generated bindings (jextract ran before they were needed): looked up here by
     * hand, on first use only, from the library the probe opened. cuda.h maps cuIpcOpenMemHandle to its _v2.
     */
    private static final class Ipc {
        static final MethodHandle OPEN, CLOSE, GET_EVENT, OPEN_EVENT;

        static {
            requireAvailable();
            SymbolLookup lib = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
            Linker linker = Linker.nativeLinker();
            // CUipcMemHandle and CUipcEventHandle alike: a struct of 64 reserved bytes, passed by value to the open calls
            var handle = java.lang.foreign.MemoryLayout.structLayout(
                    java.lang.foreign.MemoryLayout.sequenceLayout(IPC_HANDLE_SIZE, java.lang.foreign.ValueLayout.JAVA_BYTE));
            MemorySegment open = lib.find("cuIpcOpenMemHandle_v2").orElseGet(() -> lib.findOrThrow("cuIpcOpenMemHandle"));
            OPEN = linker.downcallHandle(open, FunctionDescriptor.of(JAVA_INT, ADDRESS, handle, JAVA_INT));
            CLOSE = linker.downcallHandle(lib.findOrThrow("cuIpcCloseMemHandle"), FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
            // cuda.h: CUresult cuIpcGetEventHandle(CUipcEventHandle *pHandle, CUevent event) and
            // CUresult cuIpcOpenEventHandle(CUevent *phEvent, CUipcEventHandle handle); no _v2 versions
            GET_EVENT = linker.downcallHandle(lib.findOrThrow("cuIpcGetEventHandle"), FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
            OPEN_EVENT = linker.downcallHandle(lib.findOrThrow("cuIpcOpenEventHandle"), FunctionDescriptor.of(JAVA_INT, ADDRESS, handle));
        }
    }

    /** cuda.h's {@code CU_EVENT_INTERPROCESS} (not in the generated constants; it needs {@code CU_EVENT_DISABLE_TIMING}). */
    static final int CU_EVENT_INTERPROCESS = 0x4;

    /**
     * An event another process can open ({@link #ipcGetEventHandle}): {@code CU_EVENT_INTERPROCESS} with timing off, as
     * the driver requires. Free it with {@link #eventDestroy}.
     */
    public static MemorySegment eventCreateInterprocess() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check(CudaH.cuEventCreate(p, CU_EVENT_INTERPROCESS | CudaH.CU_EVENT_DISABLE_TIMING()), "cuEventCreate",
                    "CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING");
            return p.get(ADDRESS, 0);
        }
    }

    /** The 64-byte interprocess handle of an event made by {@link #eventCreateInterprocess}. */
    public static byte[] ipcGetEventHandle(MemorySegment event) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(IPC_HANDLE_SIZE, 8);
            check((int) Ipc.GET_EVENT.invokeExact(h, event), "cuIpcGetEventHandle");
            return h.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cuIpcGetEventHandle: " + t, t);
        }
    }

    /**
     * Opens an event that another process exported with {@code cuIpcGetEventHandle} (PyTorch's
     * {@code Event.ipc_handle()}) in the current context: recording it, or making a stream wait for it, orders work
     * across the two processes on the device. Free it with {@link #eventDestroy}; using it after the exporter
     * destroyed its event is undefined (the driver's words).
     */
    public static MemorySegment ipcOpenEventHandle(byte[] handle) {
        if (handle.length != IPC_HANDLE_SIZE) {
            throw new IllegalArgumentException("a CUDA IPC event handle has " + IPC_HANDLE_SIZE + " bytes, found " + handle.length);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(IPC_HANDLE_SIZE, 8);
            h.copyFrom(MemorySegment.ofArray(handle));
            MemorySegment p = a.allocate(ADDRESS);
            check((int) Ipc.OPEN_EVENT.invokeExact(p, h), "cuIpcOpenEventHandle");
            return p.get(ADDRESS, 0);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cuIpcOpenEventHandle: " + t, t);
        }
    }

    /**
     * Maps device memory that another process exported with {@code cuIpcGetMemHandle} (PyTorch's tensors, say)
     * into the current context; returns its device pointer. Close it with {@link #ipcCloseMemHandle}.
     */
    public static long ipcOpenMemHandle(byte[] handle) {
        if (handle.length != IPC_HANDLE_SIZE) {
            throw new IllegalArgumentException("a CUDA IPC handle has " + IPC_HANDLE_SIZE + " bytes, found " + handle.length);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(IPC_HANDLE_SIZE, 8);
            h.copyFrom(MemorySegment.ofArray(handle));
            MemorySegment p = a.allocate(JAVA_LONG);
            check((int) Ipc.OPEN.invokeExact(p, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), "cuIpcOpenMemHandle");
            return p.get(JAVA_LONG, 0);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cuIpcOpenMemHandle: " + t, t);
        }
    }

    public static void ipcCloseMemHandle(long devicePointer) {
        try {
            check((int) Ipc.CLOSE.invokeExact(devicePointer), "cuIpcCloseMemHandle");
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cuIpcCloseMemHandle: " + t, t);
        }
    }
}
