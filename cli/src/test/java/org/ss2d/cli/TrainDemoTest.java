package org.ss2d.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.ss2d.Ss2d;

/**
 * {@code ss2d demo --train}'s loop learns: a short SGD run of one VSS block (VMamba-T stage-1 widths, 4x4 grid)
 * on the CPU backend (forward and backward) must cut the loss at least in half.
 */
class TrainDemoTest {
    @Test
    void aShortRunHalvesTheLoss() {
        StringWriter log = new StringWriter();
        TrainDemo.Result r = TrainDemo.run(Ss2d.on("cpu"), 1, 4, 20, 0.5, 3, new PrintWriter(log), 5);
        assertEquals("cpu", r.forwardOn());
        assertEquals("cpu", r.backwardOn());
        assertTrue(Double.isFinite(r.firstLoss()) && r.firstLoss() > 0, "first loss " + r.firstLoss());
        assertTrue(r.lastLoss() <= 0.5 * r.firstLoss(), "cpu: loss "
                + r.firstLoss() + " -> " + r.lastLoss() + " in 20 SGD steps, expected at most half\n" + log);
        System.out.println("train demo: loss " + r.firstLoss() + " -> " + r.lastLoss() + "\n" + log);
    }

    @Test
    void theCommandLinePrintsTheLossFallingAndRejectsABadRate() {
        MainTest.Result r = MainTest.ss2d("demo", "--train", "--steps", "4", "--grid", "3", "--batch", "1", "--backend", "cpu");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("step    4  loss") && r.out().contains("backward on cpu"), r.out());
        MainTest.Result bad = MainTest.ss2d("demo", "--train", "--lr", "-1");
        assertEquals(2, bad.status(), bad.out() + bad.err());
        assertTrue(bad.err().contains("--lr"), bad.err());
    }
}
