package org.ss2d.conformance.adversarial;

import static org.ss2d.conformance.adversarial.Corpus.Expect.COMPUTES;
import static org.ss2d.conformance.adversarial.Corpus.Expect.EITHER;
import static org.ss2d.conformance.adversarial.Corpus.Expect.REJECTED;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.ss2d.conformance.adversarial.Corpus.Category;
import org.ss2d.conformance.adversarial.Corpus.Made;

/**
 * The categories of the adversarial corpus. Each draws a valid case of some op kind and breaks it one
 * way; the file-level ones (truncation, bit flips, lying lengths) are in {@link FileLies}, the ones
 * that a writer could produce through Arrow (shapes, types, options) in {@link SpecLies}.
 *
 * <p>The value categories (NaN, infinities, huge values, extreme sizes, memory bombs) are in
 * {@link ValueCategories}. To add a category, append a {@link Category} to {@link #ALL}: its generator returns the file and
 * what the engine must do with it ({@link Corpus.Expect}).
 */
final class Categories {
    private Categories() {}

    static final List<Category> ALL = List.of(
            new Category("valid", 130, (r, i) -> valid(r, i)),
            new Category("ignored-extras", 40, SpecLies::ignoredExtras),
            new Category("moderate-values", 20, Categories::moderateValues),
            new Category("truncated", 60, FileLies::truncated),
            new Category("bit-flips", 110, FileLies::bitFlips),
            new Category("lying-lengths", 90, FileLies::lyingLengths),
            new Category("lying-shapes", 90, SpecLies::lyingShapes),
            new Category("wrong-types", 70, SpecLies::wrongTypes),
            new Category("bad-options", 90, SpecLies::badOptions),
            new Category("extreme-values", 80, ValueCategories::extremeValues),
            new Category("extreme-sizes", 16, ValueCategories::extremeSizes),
            new Category("allocation-bombs", 3, ValueCategories::allocationBombs));

    /** A valid case of each kind in turn. */
    static Made valid(SplittableRandom r, int i) {
        String kind = ValidCases.KINDS.get(i % ValidCases.KINDS.size());
        return new Made("valid " + kind, COMPUTES, IpcForge.write(ValidCases.of(kind, r)));
    }

    /** Valid cases whose inputs are scaled by 10^-3 ... 10^3 (values the kernels already handle). */
    static Made moderateValues(SplittableRandom r, int i) {
        String kind = ValidCases.KINDS.get(i % 3 == 0 ? 0 : i % ValidCases.KINDS.size());
        double scale = Math.pow(10, r.nextInt(-3, 4));
        String input = switch (kind) {
            case "selective_scan" -> "u";
            case "cross_merge" -> "ys";
            default -> "x";
        };
        CaseSpec s = ValidCases.of(kind, r).mapColumn(input, c -> new Col(c.name(), c.shape(), c.listSize(),
                Arrays.stream(c.values()).map(v -> v * scale).toArray(), c.encoding(), c.dtype(), c.metadata(), false));
        return new Made(kind + " with " + input + " scaled by " + scale, COMPUTES, IpcForge.write(s));
    }

    /** A random valid case (any kind). */
    static CaseSpec anyValid(SplittableRandom r) {
        return ValidCases.of(ValidCases.KINDS.get(r.nextInt(ValidCases.KINDS.size())), r);
    }

    /** The input columns a kind reads (the ones whose breaking must be noticed). */
    static List<String> inputs(CaseSpec s) {
        return switch (s.kind()) {
            case "selective_scan" -> s.names();
            case "cross_scan" -> List.of("x");
            case "cross_merge" -> List.of("ys");
            default -> s.names();
        };
    }

    /** The columns a kind cannot do without (optional inputs and the optional conv bias left out). */
    static List<String> required(CaseSpec s) {
        return switch (s.kind()) {
            case "selective_scan" -> List.of("u", "delta", "A", "B", "C");
            case "cross_scan" -> List.of("x");
            case "cross_merge" -> List.of("ys");
            default -> s.names().stream().filter(n -> !n.endsWith("conv2d.bias")).toList();
        };
    }

    static Made rejected(String why, CaseSpec s) {
        return new Made(why, REJECTED, IpcForge.write(s));
    }

    static Made either(String why, byte[] bytes) {
        return new Made(why, EITHER, bytes);
    }
}
