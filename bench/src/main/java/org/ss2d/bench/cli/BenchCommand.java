package org.ss2d.bench.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code ss2d bench}: the benchmarks as subcommands. The cli module adds this command when the bench
 * jar is on its class path (it never compiles against it); a new benchmark is one more class in
 * {@code subcommands}.
 */
@Command(name = "bench", description = {"Benchmarks. Each one checks its output against float64 (NaN-poisoned "
        + "outputs, relative error within the conformance budget of conformance/TOLERANCES.md) before it reports a time.",
        "Host backends warm up for 3 s and report the median of 11 calls; device backends time 50 calls with "
                + "device events on device-resident tensors."},
        subcommands = {ScanCommand.class, BlockCommand.class, ModelCommand.class, ScanBackwardCommand.class,
                DwconvCommand.class})
public final class BenchCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(),
                "expected a benchmark: " + String.join(", ", spec.subcommands().keySet()));
    }
}
