package org.ss2d.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code ss2d conformance [--backend NAME...] [--cases DIR] [--json FILE]}: run by the conformance module. */
@Command(name = "conformance", description = "Cross-backend conformance report (issue 5); options are passed to "
        + "org.ss2d.conformance.ConformanceMain.")
final class ConformanceCommand implements Callable<Integer> {
    static final String RUNNER = "org.ss2d.conformance.ConformanceMain";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Unmatched
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() {
        return ReservedCommand.delegate(RUNNER, "conformance", "5", args, spec.commandLine().getOut(),
                spec.commandLine().getErr());
    }
}
