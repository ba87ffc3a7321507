package org.ss2d.conformance;

import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;

/**
 * A small property-based harness on JUnit 5 dynamic tests. Each try draws its input from its own seed,
 * shown in the test name; the run's base seed is printed once. Reproduce a failing try with
 * {@code -Dss2d.prop.seed=<its seed> -Dss2d.prop.tries=1}, or a whole run with its base seed.
 * Without {@code ss2d.prop.seed} the base seed is fresh each run, so CI keeps exploring.
 */
final class Props {
    private Props() {}

    static final long BASE = Long.getLong("ss2d.prop.seed", new SplittableRandom().nextLong());
    private static final Integer TRIES = Integer.getInteger("ss2d.prop.tries");

    static {
        System.out.println("property tests: base seed " + BASE + " (reproduce with -Dss2d.prop.seed=" + BASE + ")");
    }

    static <T> Stream<DynamicTest> forAll(String property, int tries, Function<SplittableRandom, T> gen, Consumer<T> check) {
        int n = TRIES != null ? TRIES : tries;
        return IntStream.range(0, n).mapToObj(i -> {
            long seed = BASE + i * 0x9E3779B97F4A7C15L;
            T value = gen.apply(new SplittableRandom(seed));
            return DynamicTest.dynamicTest(property + " #" + i + " seed=" + seed + ": " + value, () -> {
                try {
                    check.accept(value);
                } catch (AssertionError | RuntimeException e) {
                    throw new AssertionError(property + " failed for " + value + "; reproduce with -Dss2d.prop.seed=" + seed
                            + " -Dss2d.prop.tries=1: " + e.getMessage(), e);
                }
            });
        });
    }
}
