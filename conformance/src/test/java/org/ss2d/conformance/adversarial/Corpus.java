package org.ss2d.conformance.adversarial;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BiFunction;

/**
 * The adversarial corpus: seeded categories of case files, each file with what the engine must do with
 * it. A category is a name, a count and a generator from a random stream to one file; adding one
 * (the value classes - NaN, Inf, huge values, extreme sizes - once the kernels handle them) is one
 * entry in {@link Categories#ALL}.
 */
final class Corpus {
    private Corpus() {}

    /** What a file must lead to, on every backend and through {@code ss2d run} alike. */
    enum Expect {
        /** Computes, within budget of the float64 reference. */
        COMPUTES,
        /** A clean rejection: the engine's argument (or limit) exception, one line, in words. */
        REJECTED,
        /** Either of the two (a bit flip may or may not break the file), never anything else. */
        EITHER
    }

    /** One generated file. {@code why} says what was done to it, for failure messages. */
    record Entry(String category, int index, String why, Expect expect, byte[] bytes) {
        String fileName() {
            return String.format(java.util.Locale.ROOT, "%s-%03d.arrow", category, index);
        }
    }

    /** One variant drawn from {@code r}: the file and what was done to it. */
    record Made(String why, Expect expect, byte[] bytes) {}

    /** A category: its name, how many files it contributes, and its generator. */
    record Category(String name, int count, BiFunction<SplittableRandom, Integer, Made> generator) {}

    /** Every file of every category, the same for the same seed. */
    static List<Entry> generate(long seed, List<Category> categories) {
        List<Entry> out = new ArrayList<>();
        SplittableRandom root = new SplittableRandom(seed);
        for (Category c : categories) {
            SplittableRandom r = root.split();
            for (int i = 0; i < c.count(); i++) {
                Made m = c.generator().apply(r, i);
                out.add(new Entry(c.name(), i, m.why(), m.expect(), m.bytes()));
            }
        }
        return out;
    }
}
