package org.ss2d.cuda;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ss2d.bindings.CudaDriver;

/**
 * Per-step device time of the blocks: while a profile runs ({@link CudaBackend#profileSteps}), the
 * blocks record an event on the stream after each step, and the time between consecutive events is
 * that step's. Host work between steps (workspace allocation, launches) shows up in the next step.
 * Not thread-safe: the backend's ops are serialised.
 */
final class StepMarks {
    static final String BEGIN = "(begin)";

    private final List<String> names = new ArrayList<>();
    private final List<MemorySegment> events = new ArrayList<>();

    void mark(CudaDevice dev, String step) {
        MemorySegment e = CudaDriver.eventCreate(true);
        events.add(e);
        names.add(step);
        CudaDriver.eventRecord(e, dev.stream);
    }

    /** Milliseconds per step, averaged over {@code runs}, in the order the steps first appear; frees the events. */
    Map<String, Double> collect(int runs) {
        Map<String, Double> ms = new LinkedHashMap<>();
        try {
            if (!events.isEmpty()) CudaDriver.eventSynchronize(events.getLast());
            for (int i = 1; i < events.size(); i++) {
                if (names.get(i).equals(BEGIN)) continue; // the host's gap between two runs
                ms.merge(names.get(i), (double) CudaDriver.eventElapsedMs(events.get(i - 1), events.get(i)) / runs,
                        Double::sum);
            }
            return ms;
        } finally {
            for (MemorySegment e : events) CudaDriver.eventDestroy(e);
            events.clear();
            names.clear();
        }
    }
}
