package org.ss2d.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.util.List;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code ss2d} command. Exit status: 0 done, 1 failed (a bug or an I/O error), 2 rejected input
 * (a bad case file, an unknown backend or op, a bad option). Every error is one line on stderr.
 */
@Command(name = "ss2d", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        // INHERIT: every subcommand, also those added later, answers --help/-h and --version (-V).
        scope = CommandLine.ScopeType.INHERIT,
        description = "VMamba's SS2D block and Mamba's selective scan on the JVM.",
        subcommands = {BackendsCommand.class, RunCommand.class, ClassifyCommand.class, DemoCommand.class, ConformanceCommand.class,
                ServeCommand.class,
                CommandLine.HelpCommand.class})
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
        CommandLine cl = commandLine(out, err);
        int status = cl.execute(args);
        out.flush();
        err.flush();
        return status;
    }

    /**
     * Commands that live in modules this one does not compile against (runtime dependencies), added
     * when their jar is on the class path: {@code ss2d bench} comes with ss2d-bench, {@code ss2d spark-classify}
     * with ss2d-spark. A new command of
     * this module goes into {@code subcommands} above; one of another module, here.
     */
    static final List<String> PLUGGED = List.of("org.ss2d.bench.cli.BenchCommand", "org.ss2d.spark.cli.SparkClassifyCommand");

    /** The whole command tree with this command's error handling (tests walk it). */
    static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Main());
        for (String name : PLUGGED) {
            Class<?> c;
            try {
                c = Class.forName(name);
            } catch (ClassNotFoundException e) {
                continue; // that module is not on the class path: its command is simply absent
            }
            cl.addSubcommand(new CommandLine(c));
        }
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println(Errors.oneLine(c.getCommandSpec().qualifiedName(), ex.getMessage()) + " (see --help)");
            return REJECTED;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> Errors.report(c.getErr(), ex));
        return cl;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** The version the build wrote into {@code version.properties} (resource filtering), and the JVM's. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            return new String[] {"ss2d " + version() + " on Java " + Runtime.version()};
        }

        static String version() throws IOException {
            Properties p = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
                if (in == null) throw new IOException("version.properties is missing from the ss2d-cli jar (a broken build)");
                p.load(in);
            }
            return p.getProperty("version");
        }
    }
}
