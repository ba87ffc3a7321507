package org.ss2d.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class CrossRefTest {
    @Test
    void routesOnATwoByThreeGridAsTheSpecTableSays() {
        // pixels 0..5 of a 2x3 grid (h=2, w=3): row-major 0 1 2 / 3 4 5; column-major 0 3 1 4 2 5.
        double[] x = {0, 1, 2, 3, 4, 5};
        double[] xs = CrossRef.scan(x, 1, 1, 2, 3);
        assertArrayEquals(new double[] {0, 1, 2, 3, 4, 5, 0, 3, 1, 4, 2, 5, 5, 4, 3, 2, 1, 0, 5, 2, 4, 1, 3, 0}, xs);
    }

    @ParameterizedTest(name = "grid {0}x{1}, batch {2}, channels {3}")
    @CsvSource({"1,6,1,1", "6,1,2,3", "3,3,1,2", "4,5,2,3", "7,3,1,1"})
    void mergeIsTheAdjointOfScanAndMergeOfScanIsFourX(int h, int w, int batch, int c) {
        SplittableRandom r = new SplittableRandom(h * 31L + w);
        double[] x = Problems.gauss(r, batch * c * h * w, 1);
        double[] y = Problems.gauss(r, batch * 4 * c * h * w, 1);
        double[] sx = CrossRef.scan(x, batch, c, h, w);
        double[] my = CrossRef.merge(y, batch, c, h, w);
        double lhs = 0, rhs = 0;
        for (int i = 0; i < sx.length; i++) lhs += sx[i] * y[i];
        for (int i = 0; i < x.length; i++) rhs += x[i] * my[i];
        assertEquals(lhs, rhs, 1e-12 * Math.max(1, Math.abs(lhs)), "<scan(x), y> = <x, merge(y)>");
        double[] four = CrossRef.merge(sx, batch, c, h, w);
        for (int i = 0; i < x.length; i++) assertEquals(4 * x[i], four[i], 0.0, "merge(scan(x)) = 4x at " + i);
    }

    @Test
    void everyRouteIsAPermutation() {
        int h = 5, w = 7;
        for (int k = 0; k < 4; k++) {
            boolean[] seen = new boolean[h * w];
            for (int l = 0; l < h * w; l++) seen[CrossRef.source(k, l, h, w)] = true;
            for (boolean s : seen) assertEquals(true, s, "route " + k);
        }
    }
}
