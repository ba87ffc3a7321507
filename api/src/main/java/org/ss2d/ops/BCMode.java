package org.ss2d.ops;

/** How B or C is laid out (Mamba decides "variable" by rank: 2 is constant, 3 or 4 is variable). */
public enum BCMode {
    /** {@code (dim, dstate)}: one row per channel, the same at every step. */
    CONSTANT,
    /** {@code (batch, dstate, seqlen)}: one group. */
    VARIABLE,
    /** {@code (batch, groups, dstate, seqlen)}: channel d reads group {@code d / (dim / groups)}. */
    GROUPED
}
