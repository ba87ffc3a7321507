package org.ss2d.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.apache.arrow.memory.RootAllocator;
import org.ss2d.Ss2d;
import org.ss2d.interop.cases.CaseFile;
import org.ss2d.interop.cases.CaseFiles;
import org.ss2d.interop.cases.CaseRunner;
import org.ss2d.interop.cases.OpKind;
import org.ss2d.tensor.Shapes;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ss2d run CASE.arrow -o RESULT.arrow}: runs one case file (see case-files.md). Everything is
 * read and computed before the result is written, and the result is written whole or not at all, so
 * a rejected case leaves no file behind.
 */
@Command(name = "run", description = "Run one case file (Arrow IPC, see case-files.md) and write the result file.")
final class RunCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CASE.arrow", description = "the case file")
    Path caseFile;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "RESULT.arrow", description = "the result file to write")
    Path output;

    @Option(names = "--backend", paramLabel = "NAME", description = "backend to run on (default: auto)")
    String backend;

    @Option(names = "--op", paramLabel = "KIND", description = "operation, overriding the file's ss2d.kind: "
            + "selective_scan, cross_scan, cross_merge, ss2d, vss_block")
    String op;

    @Override
    public Integer call() {
        if (op != null) OpKind.parse("--op", op); // a bad --op is named before the file is read
        Path parent = output.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent) || !Files.isWritable(parent)) {
            throw new Ss2dArgumentException("-o", "a file in a writable folder", output + " (folder "
                    + parent + (parent != null && Files.isDirectory(parent) ? " is not writable)" : " does not exist)"), null);
        }
        if (Files.isDirectory(output)) {
            throw new Ss2dArgumentException("-o", "a file name", output + " is a folder", null);
        }
        OutputPaths.check(caseFile, output);
        Ss2d ss = Backs.facade(backend);
        PrintWriter out = spec.commandLine().getOut();
        try (RootAllocator root = new RootAllocator();
             TensorScope scope = TensorScope.of("ss2d run", root);
             CaseFile f = CaseFile.open(scope, caseFile)) {
            OpKind kind = CaseRunner.kindOf(f, op);
            try (CaseRunner.Outcome o = CaseRunner.run(f, kind, ss, scope)) {
                CaseFiles.writeResult(output, o, root);
                String cols = o.outputs().entrySet().stream()
                        .map(e -> e.getKey() + " " + Shapes.format(e.getValue().shape())).collect(Collectors.joining(", "));
                out.printf(Locale.ROOT, "%s on %s (%s): %s in %.3f ms -> %s%n", kind, o.backend(), o.device(), cols,
                        o.elapsedMs(), output);
            }
        }
        return Main.OK;
    }
}
