package org.ss2d.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code ss2d bench ...}: run by the bench module. */
@Command(name = "bench", description = "Benchmarks (issue 3); options are passed to org.ss2d.bench.BenchMain.")
final class BenchCommand implements Callable<Integer> {
    static final String RUNNER = "org.ss2d.bench.BenchMain";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Unmatched
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() {
        return ReservedCommand.delegate(RUNNER, "bench", "3", args, spec.commandLine().getOut(),
                spec.commandLine().getErr());
    }
}
