package org.ss2d.bindings;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.ss2d.bindings.cublas.CublasH;

/**
 * The one door to cuBLAS 13 ({@code libcublas.so.13}). {@link #load()} finds the library before the
 * generated {@link CublasH} is touched: first the file {@code -Dss2d.cublas.library} names, then
 * by name through the loader path, then in the usual toolkit folders; once one copy is loaded, the generated lookup by name finds the same object.
 * Another major version (libcublas.so.12) is reported, not used: the bindings follow cuBLAS 13's
 * headers.
 */
public final class Cublas {
    public static final String LIBRARY = "libcublas.so.13";
    private static volatile String loadError;
    private static volatile boolean loaded;
    private static volatile String loadedFrom;

    private Cublas() {}

    /**
     * Null when cuBLAS is usable, else the reason. An explicit {@code -Dss2d.cublas.library} is tried first
     * (the user's choice wins over whatever the loader path holds), then the loader path, then the usual
     * install folders.
     */
    public static synchronized String load() {
        if (loaded) return null;
        if (loadError != null) return loadError;
        List<String> tried = new ArrayList<>();
        Path chosen = property();
        if (chosen != null && open(chosen, tried)) return null;
        try {
            // Global arena: never unloaded (see open).
            SymbolLookup.libraryLookup(LIBRARY, Arena.global());
            loaded = true;
            loadedFrom = LIBRARY + " (loader path)";
            return null;
        } catch (IllegalArgumentException e) {
            tried.add(LIBRARY + " (loader path)");
        }
        for (Path p : candidates()) {
            if (open(p, tried)) return null;
        }
        String other = otherVersions();
        loadError = LIBRARY + " not found; tried " + String.join(", ", tried)
                + (other.isEmpty() ? "" : "; found other cuBLAS versions: " + other + " (the bindings need cuBLAS 13)")
                + "; set -Dss2d.cublas.library=/path/to/libcublas.so.13 or LD_LIBRARY_PATH";
        return loadError;
    }

    /** Where cuBLAS was opened from: the file, or the soname when the loader path found it; null before. */
    public static String loadedFrom() {
        return loadedFrom;
    }

    private static boolean open(Path p, List<String> tried) {
        if (!Files.exists(p)) return false;
        tried.add(p.toString());
        try {
            // Opened by path and kept open for the life of the process (global arena), so that the
            // generated bindings' dlopen("libcublas.so.13") finds it by its soname, also after a
            // garbage collection (an automatic arena, dropped here, would let it be unloaded).
            SymbolLookup.libraryLookup(p, Arena.global());
            loaded = true;
            loadedFrom = p.toString();
            return true;
        } catch (IllegalArgumentException e) {
            tried.set(tried.size() - 1, p + " (" + e.getMessage() + ")");
            return false;
        }
    }

    private static Path property() {
        String prop = System.getProperty("ss2d.cublas.library");
        return prop == null || prop.isBlank() ? null : Path.of(prop);
    }

    private static List<Path> candidates() {
        List<Path> c = new ArrayList<>();
        for (String env : new String[] {"CUDA_HOME", "CUDA_PATH"}) {
            String v = System.getenv(env);
            if (v != null && !v.isBlank()) {
                c.add(Path.of(v, "lib64", LIBRARY));
                c.add(Path.of(v, "targets", "x86_64-linux", "lib", LIBRARY));
            }
        }
        c.add(Path.of("/usr/local/cuda/lib64", LIBRARY));
        c.add(Path.of("/usr/local/cuda/targets/x86_64-linux/lib", LIBRARY));
        c.add(Path.of("/usr/local/cuda-13.0/targets/x86_64-linux/lib", LIBRARY));
        c.add(Path.of("/usr/lib/x86_64-linux-gnu", LIBRARY));
        return c;
    }

    private static String otherVersions() {
        List<String> found = new ArrayList<>();
        for (String dir : new String[] {"/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu"}) {
            for (String v : new String[] {"11", "12", "14"}) {
                Path p = Path.of(dir, "libcublas.so." + v);
                if (Files.exists(p)) found.add(p.toString());
            }
        }
        return String.join(", ", found);
    }

    /** Throws {@link IllegalStateException} with the reason unless {@link #load()} succeeded. */
    public static void requireLoaded() {
        String err = load();
        if (err != null) throw new IllegalStateException("cuBLAS unavailable: " + err);
    }

    public static void check(int status, String call) {
        if (status != 0) throw error(status, call, null);
    }

    public static void check(int status, String call, String context) {
        if (status != 0) throw error(status, call, context);
    }

    private static CudaException error(int status, String call, String context) {
        String name = CublasH.cublasGetStatusName(status).reinterpret(256).getString(0);
        String text = CublasH.cublasGetStatusString(status).reinterpret(1024).getString(0);
        return status == CublasH.CUBLAS_STATUS_ALLOC_FAILED()
                ? new CudaOutOfMemoryException(call, status, name, text, context)
                : new CudaException(call, status, name, text, context);
    }

    // ------------------------------------------------------------------------------ handle

    public static MemorySegment create() {
        requireLoaded();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check(CublasH.cublasCreate_v2(p), "cublasCreate_v2");
            return p.get(ADDRESS, 0);
        }
    }

    public static void destroy(MemorySegment handle) {
        check(CublasH.cublasDestroy_v2(handle), "cublasDestroy_v2");
    }

    public static int version(MemorySegment handle) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            check(CublasH.cublasGetVersion_v2(handle, p), "cublasGetVersion_v2");
            return p.get(JAVA_INT, 0);
        }
    }

    public static void setStream(MemorySegment handle, MemorySegment stream) {
        check(CublasH.cublasSetStream_v2(handle, stream), "cublasSetStream_v2");
    }

    /**
     * Full fp32 ({@code CUBLAS_PEDANTIC_MATH}: no TF32 even where the library default would allow
     * it) unless {@code tf32}, which allows TF32 tensor cores (about 1e-3 relative error).
     */
    public static void setMathMode(MemorySegment handle, boolean tf32) {
        check(CublasH.cublasSetMathMode(handle, tf32 ? CublasH.CUBLAS_TF32_TENSOR_OP_MATH() : CublasH.CUBLAS_PEDANTIC_MATH()),
                "cublasSetMathMode");
    }

    public static int opN() {
        return CublasH.CUBLAS_OP_N();
    }

    public static int opT() {
        return CublasH.CUBLAS_OP_T();
    }

    /**
     * Column-major {@code C = alpha op(A) op(B) + beta C} in fp32, batched with strides (in elements).
     * {@code scalars} holds alpha at 0 and beta at 4 (host memory, kept alive by the caller).
     */
    public static void sgemmStridedBatched(MemorySegment handle, int transA, int transB, int m, int n, int k,
                                           MemorySegment scalars, long a, int lda, long strideA, long b, int ldb,
                                           long strideB, long c, int ldc, long strideC, int batch) {
        check(CublasH.cublasSgemmStridedBatched(handle, transA, transB, m, n, k, scalars.asSlice(0, 4),
                        MemorySegment.ofAddress(a), lda, strideA, MemorySegment.ofAddress(b), ldb, strideB,
                        scalars.asSlice(4, 4), MemorySegment.ofAddress(c), ldc, strideC, batch),
                "cublasSgemmStridedBatched", "m=" + m + " n=" + n + " k=" + k + " batch=" + batch);
    }

    /** Column-major single {@code sgemm}; see {@link #sgemmStridedBatched}. */
    public static void sgemm(MemorySegment handle, int transA, int transB, int m, int n, int k, MemorySegment scalars,
                             long a, int lda, long b, int ldb, long c, int ldc) {
        check(CublasH.cublasSgemm_v2(handle, transA, transB, m, n, k, scalars.asSlice(0, 4), MemorySegment.ofAddress(a),
                        lda, MemorySegment.ofAddress(b), ldb, scalars.asSlice(4, 4), MemorySegment.ofAddress(c), ldc),
                "cublasSgemm_v2", "m=" + m + " n=" + n + " k=" + k);
    }

    /** fp32 in and out through {@code cublasGemmEx} with an explicit compute type (32F or 32F_FAST_TF32). */
    public static void gemmEx(MemorySegment handle, int transA, int transB, int m, int n, int k, MemorySegment scalars,
                              long a, int lda, long b, int ldb, long c, int ldc, boolean tf32) {
        int f32 = CublasH.CUDA_R_32F();
        check(CublasH.cublasGemmEx(handle, transA, transB, m, n, k, scalars.asSlice(0, 4), MemorySegment.ofAddress(a), f32,
                        lda, MemorySegment.ofAddress(b), f32, ldb, scalars.asSlice(4, 4), MemorySegment.ofAddress(c), f32, ldc,
                        tf32 ? CublasH.CUBLAS_COMPUTE_32F_FAST_TF32() : CublasH.CUBLAS_COMPUTE_32F(),
                        CublasH.CUBLAS_GEMM_DEFAULT()),
                "cublasGemmEx", "m=" + m + " n=" + n + " k=" + k);
    }

    /**
     * {@code cudaDataType} numbers of the 16-bit types, from CUDA's {@code library_types.h} (a stable ABI: the
     * generated bindings carry only {@code CUDA_R_32F}, and jextract is not rerun for two constants).
     */
    public static final int R_16F = 2, R_16BF = 14;

    /** {@code CUDA_R_32F}. */
    public static int r32F() {
        return CublasH.CUDA_R_32F();
    }

    private static volatile java.lang.invoke.MethodHandle gemmStridedBatchedEx;

    /**
     * {@code cublasGemmStridedBatchedEx}, a hand-written downcall (as {@code CudaDriver}'s IPC calls: the generated
     * bindings do not include it), looked up on first use in the cuBLAS that {@link #load()} opened.
     */
    private static java.lang.invoke.MethodHandle gemmStridedBatchedEx() {
        java.lang.invoke.MethodHandle h = gemmStridedBatchedEx;
        if (h != null) return h;
        synchronized (Cublas.class) {
            if (gemmStridedBatchedEx == null) {
                requireLoaded();
                MemorySegment fn = SymbolLookup.libraryLookup(LIBRARY, Arena.global()).findOrThrow("cublasGemmStridedBatchedEx");
                var L = java.lang.foreign.ValueLayout.JAVA_LONG;
                gemmStridedBatchedEx = java.lang.foreign.Linker.nativeLinker().downcallHandle(fn,
                        java.lang.foreign.FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                                JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, L, ADDRESS, JAVA_INT, JAVA_INT, L, ADDRESS,
                                ADDRESS, JAVA_INT, JAVA_INT, L, JAVA_INT, JAVA_INT, JAVA_INT));
            }
            return gemmStridedBatchedEx;
        }
    }

    /**
     * Column-major {@code C = alpha op(A) op(B) + beta C}, batched with strides (in elements), A, B and C each of its
     * own {@code cudaDataType} ({@link #R_16F}, {@link #R_16BF}, {@link #r32F()}), accumulated in float32
     * ({@code CUBLAS_COMPUTE_32F}: half inputs, float32 products and sums, C rounded once at the store).
     */
    public static void gemmStridedBatchedEx(MemorySegment handle, int transA, int transB, int m, int n, int k,
                                            MemorySegment scalars, long a, int aType, int lda, long strideA, long b,
                                            int bType, int ldb, long strideB, long c, int cType, int ldc, long strideC,
                                            int batch) {
        int status;
        try {
            status = (int) gemmStridedBatchedEx().invokeExact(handle, transA, transB, m, n, k, scalars.asSlice(0, 4),
                    MemorySegment.ofAddress(a), aType, lda, strideA, MemorySegment.ofAddress(b), bType, ldb, strideB,
                    scalars.asSlice(4, 4), MemorySegment.ofAddress(c), cType, ldc, strideC, batch,
                    CublasH.CUBLAS_COMPUTE_32F(), CublasH.CUBLAS_GEMM_DEFAULT());
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cublasGemmStridedBatchedEx: " + t, t);
        }
        check(status, "cublasGemmStridedBatchedEx", "m=" + m + " n=" + n + " k=" + k + " batch=" + batch + " types "
                + aType + "/" + bType + "/" + cType);
    }

    /** alpha, beta as a host segment for the calls above. */
    public static MemorySegment scalars(Arena arena, float alpha, float beta) {
        MemorySegment s = arena.allocate(8, 4);
        s.set(JAVA_FLOAT, 0, alpha);
        s.set(JAVA_FLOAT, 4, beta);
        return s;
    }
}
