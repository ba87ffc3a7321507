package org.ss2d.spark.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.validate.Ss2dArgumentException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ss2d spark-classify}: a ready-made Spark job that classifies a folder of images (or a Parquet
 * table of images or tensors) and writes the results as Parquet. The cli adds it when this jar is on its
 * class path; Spark itself must be there too (spark-submit's class path, or the launcher's
 * {@code SPARK_HOME/jars}), which is checked before anything else. Spark's classes are only touched by
 * {@link SparkClassifyJob}, so the command can be listed (and asked for --help) without Spark.
 */
@Command(name = "spark-classify", mixinStandardHelpOptions = true,
        description = "Classify images on Apache Spark (a folder of JPEG/PNG files or a Parquet table); write Parquet.")
public final class SparkClassifyCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", paramLabel = "NAME",
            description = "A released configuration the weights must hold (default: whatever the weights hold).")
    String model;

    @Option(names = "--weights", required = true, paramLabel = "FILE",
            description = "The checkpoint as safetensors, at a path every executor can read.")
    String weights;

    @Option(names = "--input", required = true, paramLabel = "DIR|TABLE",
            description = "A folder of images (searched recursively), or a Parquet table with content (binary) "
                    + "or x (array<float>) and x_shape columns.")
    String input;

    @Option(names = "--output", required = true, paramLabel = "PARQUET",
            description = "The Parquet folder to write (must not exist): path, logits, top_classes, top_probs, error.")
    String output;

    @Option(names = "--master", paramLabel = "URL",
            description = "Spark master (default: spark-submit's --master, else local[*]).")
    String master;

    @Option(names = "--backend", paramLabel = "NAME", defaultValue = "auto",
            description = "Backend on each executor: auto, or a name that never falls back (default ${DEFAULT-VALUE}).")
    String backend;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "8", description = "Rows per model call (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--top", paramLabel = "K", defaultValue = "5", description = "Classes kept per image (default ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
            description = "CPU backend threads per executor (default: the executor's processors).")
    int threads;

    @Option(names = "--partitions", paramLabel = "N", defaultValue = "0",
            description = "A folder: split its files into N partitions as they are read (default: partitions of --batch files,"
                    + " fewer files where that would leave task slots idle). A table: repartition it into N (default: as read).")
    int partitions;

    @Option(names = "--spark-split",
            description = "A folder: leave the split to Spark (files packed by bytes, ~29 small images a partition).")
    boolean sparkSplit;

    @Option(names = "--fail-on-error", description = "Fail the job on the first unreadable image (default: an error column).")
    boolean failOnError;

    /** The job as an application of its own, for {@code spark-submit --class org.ss2d.spark.cli.SparkClassifyCommand}. */
    public static void main(String[] args) {
        CommandLine cl = new CommandLine(new SparkClassifyCommand());
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            if (ex instanceof Ss2dArgumentException) {
                c.getErr().println("ss2d: " + oneLine(ex.getMessage()));
                return 2;
            }
            c.getErr().println("ss2d: failed: " + ex.getClass().getSimpleName() + ": " + oneLine(ex.getMessage()));
            return 1;
        });
        System.exit(cl.execute(args));
    }

    private static String oneLine(String m) {
        return m == null ? "(no message)" : m.strip().replaceAll("\\s*\\R\\s*", "; ");
    }

    @Override
    public Integer call() throws Exception {
        if (batch < 1) throw new Ss2dArgumentException("--batch", "N >= 1", String.valueOf(batch), null);
        if (top < 0) throw new Ss2dArgumentException("--top", "K >= 0", String.valueOf(top), null);
        if (threads < 0) throw new Ss2dArgumentException("--threads", "N >= 0", String.valueOf(threads), null);
        if (partitions < 0) throw new Ss2dArgumentException("--partitions", "N >= 0", String.valueOf(partitions), null);
        if (model != null) VMambaConfig.named(model);
        if (!local(weights) || !Files.isRegularFile(Path.of(weights))) {
            throw new Ss2dArgumentException("--weights", "a .safetensors file on a local or shared file system", "no file " + weights, null);
        }
        if (local(input) && !Files.exists(Path.of(input))) {
            throw new Ss2dArgumentException("--input", "a folder of images or a Parquet table", "nothing at " + input, null);
        }
        if (local(output) && Files.exists(Path.of(output))) {
            throw new Ss2dArgumentException("--output", "a path that does not exist yet", "an existing " + output, null);
        }
        try {
            Class.forName("org.apache.spark.sql.SparkSession", false, SparkClassifyCommand.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new Ss2dArgumentException("spark-classify", "Apache Spark 4.2 on the class path",
                    "none: run it with spark-submit (spark/README.md), or set SPARK_HOME for the ss2d launcher", null);
        }
        PrintWriter out = spec.commandLine().getOut();
        String weightsPath = Path.of(weights).toAbsolutePath().toString();
        SparkClassifyJob.Options o = new SparkClassifyJob.Options(model, weightsPath, input, output, master, backend,
                batch, top, threads, partitions, failOnError, sparkSplit);
        out.println(SparkClassifyJob.run(o));
        out.flush();
        return 0;
    }

    /** A path of this machine's file system (no URI scheme such as hdfs:// or s3a://). */
    static boolean local(String p) {
        return !p.matches("^[A-Za-z][A-Za-z0-9+.-]*://.*") || p.startsWith("file:");
    }
}
