package org.ss2d.bench.cli;

import picocli.CommandLine;
import picocli.CommandLine.Option;

/** The scan's shape options, shared by {@code bench scan} and {@code bench scan-backward}: S1 by default. */
final class ScanShapeOptions {
    @Option(names = "--batch", paramLabel = "B", defaultValue = "32", description = "batch (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--dim", paramLabel = "D", defaultValue = "768", description = "channels (default: ${DEFAULT-VALUE})")
    int dim;

    @Option(names = "--groups", paramLabel = "G", defaultValue = "4",
            description = "groups of B and C; must divide --dim (default: ${DEFAULT-VALUE})")
    int groups;

    @Option(names = "--seqlen", paramLabel = "L", defaultValue = "3136", description = "sequence length (default: ${DEFAULT-VALUE})")
    int seqlen;

    @Option(names = "--dstate", paramLabel = "N", defaultValue = "1", description = "state size (default: ${DEFAULT-VALUE})")
    int dstate;

    /** Every size at least 1, each error naming its option. */
    void checkSizes(CommandLine cl) {
        Common.atLeast(cl, "--batch", batch, 1);
        Common.atLeast(cl, "--dim", dim, 1);
        Common.atLeast(cl, "--groups", groups, 1);
        Common.atLeast(cl, "--seqlen", seqlen, 1);
        Common.atLeast(cl, "--dstate", dstate, 1);
    }

    void checkGroupsDivideDim(CommandLine cl) {
        if (dim % groups != 0) {
            throw new CommandLine.ParameterException(cl, "--groups: must divide --dim=" + dim + ", got " + groups);
        }
    }
}
