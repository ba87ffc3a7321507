package org.ss2d.interop.cdata;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CPython inside this JVM, through FFM: just enough to run source strings (the interpreter is never finalized), so that pyarrow and
 * this library exchange arrays through the C Data Interface within one process (pointers are only
 * meaningful there). libpython is opened RTLD_GLOBAL because extension modules (numpy, pyarrow)
 * resolve the interpreter's symbols from the process. Test-only.
 */
final class EmbeddedPython {
    private static final int RTLD_NOW = 2, RTLD_GLOBAL = 0x100;
    private static EmbeddedPython instance;

    private final MethodHandle runSimpleString;

    private EmbeddedPython(Path home, Path sitePackages) throws Throwable {
        // setenv, dlopen and dlsym copy their string arguments: a short-lived arena suffices.
        try (Arena arena = Arena.ofConfined()) {
            runSimpleString = start(home, arena);
        }
        exec("import sys; sys.path.insert(0, " + pyString(sitePackages.toString()) + ")");
    }

    private static MethodHandle start(Path home, Arena arena) throws Throwable {
        Linker linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        MethodHandle setenv = linker.downcallHandle(libc.find("setenv").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        MethodHandle dlopen = linker.downcallHandle(libc.find("dlopen").orElseThrow(),
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
        MethodHandle dlsym = linker.downcallHandle(libc.find("dlsym").orElseThrow(),
                FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
        Path lib = findLibPython(home);
        // The interpreter finds its standard library through PYTHONHOME, read when it initializes.
        int rc = (int) setenv.invokeExact(arena.allocateFrom("PYTHONHOME"), arena.allocateFrom(home.toString()), 1);
        if (rc != 0) throw new IllegalStateException("setenv PYTHONHOME failed");
        MemorySegment handle = (MemorySegment) dlopen.invokeExact(arena.allocateFrom(lib.toString()), RTLD_NOW | RTLD_GLOBAL);
        if (handle.equals(MemorySegment.NULL)) throw new IllegalStateException("dlopen " + lib + " failed");
        MemorySegment init = (MemorySegment) dlsym.invokeExact(handle, arena.allocateFrom("Py_InitializeEx"));
        MemorySegment run = (MemorySegment) dlsym.invokeExact(handle, arena.allocateFrom("PyRun_SimpleString"));
        linker.downcallHandle(init, FunctionDescriptor.ofVoid(JAVA_INT)).invokeExact(0);
        return linker.downcallHandle(run, FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    static synchronized EmbeddedPython get(Path home, Path sitePackages) throws Throwable {
        if (instance == null) instance = new EmbeddedPython(home, sitePackages);
        return instance;
    }

    /** Runs Python source; an exception there is printed by Python and fails here. */
    void exec(String source) {
        int rc;
        try (Arena a = Arena.ofConfined()) {
            rc = (int) runSimpleString.invokeExact(a.allocateFrom(source));
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (rc != 0) throw new AssertionError("Python raised (traceback on stderr) running:\n" + source);
    }

    static String pyString(String s) {
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    private static Path findLibPython(Path home) throws IOException {
        try (var files = Files.list(home.resolve("lib"))) {
            return files.filter(p -> p.getFileName().toString().matches("libpython3\\.\\d+\\.so(\\.1\\.0)?"))
                    .sorted().findFirst()
                    .orElseThrow(() -> new IllegalStateException("no libpython3.X.so under " + home.resolve("lib")));
        }
    }
}
