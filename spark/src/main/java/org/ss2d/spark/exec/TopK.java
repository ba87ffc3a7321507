package org.ss2d.spark.exec;

import java.util.Arrays;

/** The k best classes of one row of logits and their softmax probabilities (in double, max subtracted), as {@code ss2d classify} prints them. */
final class TopK {
    private TopK() {}

    /** Classes by falling logit; equal logits keep class order (a stable sort), so the result is deterministic. */
    static int[] classes(float[] logits, int off, int classes, int k) {
        Integer[] order = new Integer[classes];
        for (int c = 0; c < classes; c++) order[c] = c;
        Arrays.sort(order, (a, b) -> Float.compare(logits[off + b], logits[off + a]));
        int[] out = new int[Math.min(k, classes)];
        for (int r = 0; r < out.length; r++) out[r] = order[r];
        return out;
    }

    static double[] probabilities(float[] logits, int off, int classes, int[] top) {
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < classes; c++) max = Math.max(max, logits[off + c]);
        double sum = 0;
        for (int c = 0; c < classes; c++) sum += Math.exp(logits[off + c] - max);
        double[] p = new double[top.length];
        for (int r = 0; r < top.length; r++) p[r] = Math.exp(logits[off + top[r]] - max) / sum;
        return p;
    }
}
