package org.ss2d.cpu;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;

/** Wall time per SS2D/VSS step, summed over calls, for {@link CpuBackend#profileSteps} (off unless one runs). */
final class StepProfile {
    /** The steps of the blocks, in order. */
    enum Step { NORM_IN, IN_PROJ, CONV_SILU, CROSS_SCAN, X_DT_PROJ, SCAN, CROSS_MERGE, NORM_OUT, OUT_PROJ, MLP }

    private final AtomicLongArray nanos = new AtomicLongArray(Step.values().length);

    void add(Step s, long ns) {
        nanos.addAndGet(s.ordinal(), ns);
    }

    long nanos(Step s) {
        return nanos.get(s.ordinal());
    }

    /** Steps with time spent, in order. */
    Map<Step, Long> snapshot() {
        Map<Step, Long> m = new EnumMap<>(Step.class);
        for (Step s : Step.values()) if (nanos(s) > 0) m.put(s, nanos(s));
        return m;
    }
}
