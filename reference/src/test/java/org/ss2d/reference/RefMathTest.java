package org.ss2d.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class RefMathTest {
    @Test
    void erfMatchesTabulatedValuesToDoublePrecision() {
        // Values from high-precision tables (Abramowitz & Stegun 7.1, extended precision).
        double[][] table = {
            {0.1, 0.1124629160182848922}, {0.5, 0.5204998778130465377}, {1.0, 0.8427007929497148693},
            {1.5, 0.9661051464753107271}, {2.0, 0.9953222650189527342}, {2.9, 0.9999589021219005411},
            {3.0, 0.9999779095030014146}, {3.5, 0.9999992569016276586}, {4.0, 0.9999999845827420997},
            {6.0, 1.0}, {-0.5, -0.5204998778130465377}, {0.0, 0.0},
        };
        for (double[] row : table) {
            assertEquals(row[1], RefMath.erf(row[0]), 4.5e-16, "erf(" + row[0] + ") within 2 ulp of 1");
        }
    }

    @Test
    void erfIsContinuousWhereTheTwoFormulasMeet() {
        double below = RefMath.erf(Math.nextDown(3.0)), at = RefMath.erf(3.0);
        assertEquals(at, below, 1e-15);
    }

    @Test
    void geluIsTheErfForm() {
        // torch.nn.functional.gelu(torch.tensor(1.0, dtype=float64)) = 0.8413447460685429
        assertEquals(0.8413447460685429, RefMath.gelu(1.0), 3e-16);
        assertEquals(-0.15865525393145707, RefMath.gelu(-1.0), 3e-16);
    }

    @Test
    void softplusSwitchesExactlyAtTwenty() {
        assertEquals(Math.log1p(Math.exp(20.0)), RefMath.softplus(20.0), 0.0);
        assertEquals(Math.nextUp(20.0), RefMath.softplus(Math.nextUp(20.0)), 0.0);
        assertEquals(Math.log1p(Math.exp(-3.0)), RefMath.softplus(-3.0), 0.0);
    }
}
