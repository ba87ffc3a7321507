package org.ss2d.ops;

/**
 * Sizes of a validated selective scan, derived once by {@code Validator.selectiveScan} so that kernels
 * need not look at ranks again. {@code groups} is 1 unless B or C is grouped.
 */
public record ScanShape(int batch, int dim, int seqlen, int dstate, int groups, BCMode bMode, BCMode cMode) {
    /** Channels per group: channel d belongs to group {@code d / channelsPerGroup()}. */
    public int channelsPerGroup() {
        return dim / groups;
    }

    /** (batch, channel, step) elements: the unit of ns/elem figures. */
    public long elements() {
        return (long) batch * dim * seqlen;
    }
}
