package org.ss2d.conformance.adversarial;

import static org.ss2d.conformance.adversarial.Corpus.Expect.COMPUTES;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.ss2d.conformance.adversarial.Corpus.Made;

/**
 * Valid files with extreme values in a selective scan, the answer being what IEEE arithmetic gives
 * in float64 (exp(-inf) = 0, softplus(-inf) = 0; NaN and Inf where the truth has them): every backend
 * must match the reference, non-finite where it is non-finite. Values of the reliability issue's
 * findings; the blocks (ss2d, vss_block) are not in this category yet.
 */
final class ValueLies {
    private ValueLies() {}

    static Made extremeScanValues(SplittableRandom r, int i) {
        CaseSpec s = ValidCases.scan(r);
        int variant = i % 8;
        CaseSpec t = switch (variant) {
            case 0 -> s.mapColumn("A", c -> spike(c, r, Double.NaN));
            case 1 -> s.mapColumn("A", c -> spike(c, r, Double.POSITIVE_INFINITY));
            case 2 -> s.mapColumn("A", c -> spike(c, r, Double.NEGATIVE_INFINITY));
            case 3 -> s.mapColumn("A", c -> fill(c, -3e38));
            case 4 -> s.withOptions("{\"delta_softplus\": true}").mapColumn("delta", c -> spike(c, r, Double.NEGATIVE_INFINITY));
            case 5 -> s.mapColumn("delta", c -> fill(c, 1e30)).mapColumn("u", c -> scale(c, 1e-10));
            case 6 -> s.mapColumn("u", c -> spike(c, r, Double.NaN));
            default -> s.mapColumn("B", c -> spike(c, r, Double.POSITIVE_INFINITY));
        };
        return new Made("selective_scan extreme values " + List.of("NaN in A", "+Inf in A", "-Inf in A", "A = -3e38",
                "delta = -Inf with softplus", "delta 1e30, u 1e-10", "NaN in u", "+Inf in B").get(variant), COMPUTES,
                IpcForge.write(t));
    }

    private static Col spike(Col c, SplittableRandom r, double v) {
        double[] x = c.values().clone();
        x[r.nextInt(x.length)] = v;
        return with(c, x);
    }

    private static Col fill(Col c, double v) {
        double[] x = new double[c.values().length];
        Arrays.fill(x, v);
        return with(c, x);
    }

    private static Col scale(Col c, double k) {
        return with(c, Arrays.stream(c.values()).map(v -> v * k).toArray());
    }

    private static Col with(Col c, double[] values) {
        // float32 storage: -3e38 and 1e30 are representable; NaN and Inf are kept as such
        return new Col(c.name(), c.shape(), c.listSize(), values, c.encoding(), Col.Dtype.F32, c.metadata(), false);
    }
}
