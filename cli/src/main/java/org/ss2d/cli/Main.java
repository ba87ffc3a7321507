package org.ss2d.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code ss2d} command. Exit status: 0 done, 1 failed (a bug or an I/O error), 2 rejected input
 * (a bad case file, an unknown backend or op, a bad option). Every error is one line on stderr.
 */
@Command(name = "ss2d", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "VMamba's SS2D block and Mamba's selective scan on the JVM.",
        subcommands = {BackendsCommand.class, RunCommand.class, DemoCommand.class, ConformanceCommand.class,
                BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    public static final int OK = 0;
    public static final int FAILED = 1;
    public static final int REJECTED = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs the command with the given streams (tests call this instead of {@link #main}). */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println(Errors.oneLine(c.getCommandName().equals("ss2d") ? "ss2d" : "ss2d " + c.getCommandName(),
                    ex.getMessage()) + " (see --help)");
            return REJECTED;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> Errors.report(c.getErr(), ex));
        int status = cl.execute(args);
        out.flush();
        err.flush();
        return status;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"ss2d " + (v == null ? "0.1.0-SNAPSHOT" : v) + " on Java " + Runtime.version()};
        }
    }
}
