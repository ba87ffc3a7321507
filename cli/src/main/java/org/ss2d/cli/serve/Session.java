package org.ss2d.cli.serve;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.ss2d.spi.Backend;
import org.ss2d.tensor.DeviceMemory;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * What one client process has here: the shared-memory segments it handed over, mapped once each into
 * this session's arena, and the weights it loaded ({@link Loaded}). Everything goes when the session
 * closes: the loaded weights, then the mappings. The client's segments are memfds; this process opens them
 * through {@code /proc/PID/fd/N} (same user), so once both sides have unmapped them the kernel frees the
 * memory, whichever side dies first.
 */
final class Session {
    private final long pid;
    private final String token;
    private final Arena arena = Arena.ofShared();
    private final TensorScope scope;
    private final Map<Long, MemorySegment> segments = new ConcurrentHashMap<>();
    private final Map<Long, Loaded> handles = new ConcurrentHashMap<>();
    /** CUDA allocations of the client opened through IPC handles, kept open for the session (opening is slow). */
    private final Map<String, DeviceMemory> ipc = new ConcurrentHashMap<>();
    private final AtomicLong nextHandle = new AtomicLong(1);
    /** Guarded by the server's session map (compute). */
    int connections;

    Session(long pid, String token) {
        this.pid = pid;
        this.token = token;
        this.scope = TensorScope.root("session " + pid);
    }

    String key() {
        return pid + "/" + token;
    }

    TensorScope scope() {
        return scope;
    }

    /**
     * Segment {@code id} of the client, {@code size} bytes behind its descriptor {@code fd}, mapped on first
     * use. The same id must keep its size (the client never reuses an id).
     */
    MemorySegment segment(String argument, long id, long fd, long size) {
        MemorySegment m = segments.get(id);
        if (m == null) {
            m = segments.computeIfAbsent(id, k -> map(argument, fd, size));
        }
        if (m.byteSize() != size) {
            throw new Ss2dArgumentException(argument, "segment " + id + " of " + m.byteSize() + " bytes", size + " bytes", null);
        }
        return m;
    }

    private MemorySegment map(String argument, long fd, long size) {
        Path p = Path.of("/proc", Long.toString(pid), "fd", Long.toString(fd));
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            if (ch.size() < size) {
                throw new Ss2dArgumentException(argument, "shared memory of at least " + size + " bytes",
                        ch.size() + " bytes behind descriptor " + fd + " of process " + pid, null);
            }
            return ch.map(FileChannel.MapMode.READ_WRITE, 0, size, arena);
        } catch (IOException e) {
            throw new Ss2dArgumentException(argument, "shared memory that this engine can map",
                    p + " (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")", null);
        }
    }

    /** The client's CUDA allocation behind {@code handle}, opened on first use by {@code cuda}. */
    DeviceMemory ipc(String key, byte[] handle, long bytes, Backend cuda) {
        DeviceMemory m = ipc.computeIfAbsent(key, k -> cuda.openIpcMemory(handle, bytes));
        if (m.byteSize() < bytes) {
            throw new Ss2dArgumentException("cuda", "an allocation of " + m.byteSize() + " bytes", bytes + " bytes", null);
        }
        return m;
    }

    /** The client's process id (its descriptors are reached through {@code /proc/PID/fd}). */
    long pid() {
        return pid;
    }

    long add(Loaded l) {
        long id = nextHandle.getAndIncrement();
        handles.put(id, l);
        return id;
    }

    Loaded handle(long id) {
        Loaded l = handles.get(id);
        if (l == null) throw new Ss2dArgumentException("handle", "a loaded module of this client", "no handle " + id, null);
        return l;
    }

    void free(long id) {
        Loaded l = handles.remove(id);
        if (l != null) l.close();
    }

    int ipcCount() {
        return ipc.size();
    }

    int segmentCount() {
        return segments.size();
    }

    int handleCount() {
        return handles.size();
    }

    long mappedBytes() {
        return segments.values().stream().mapToLong(MemorySegment::byteSize).sum();
    }

    /** Frees the loaded weights, then unmaps every segment (no call of this session is running). */
    void close() {
        for (Long id : handles.keySet()) free(id);
        scope.release();
        for (DeviceMemory m : ipc.values()) {
            try {
                m.free();
            } catch (RuntimeException e) {
                System.getLogger("org.ss2d.cli.serve").log(System.Logger.Level.WARNING, "closing a CUDA IPC mapping: " + e);
            }
        }
        ipc.clear();
        segments.clear();
        arena.close();
    }
}
