package org.ss2d.bench.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ss2d.bench.DwconvBench;
import org.ss2d.tensor.DType;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ss2d bench dwconv}: the SS2D block's conv_silu step with each kernel variant of a device backend. */
@Command(name = "dwconv", sortOptions = false,
        description = {"The SS2D block's depthwise convolution + SiLU step (conv_silu), timed with each kernel variant "
                + "(a system property set around its calls) in one process, against its memory floor (x read and the "
                + "result written once, at the device copy bandwidth of the same run).",
                "Defaults: CUDA, ss2d.cuda.dwconv = rows and v2, VMamba-T's four stages at batch 32 and 128."})
final class DwconvCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--backend", paramLabel = "NAME", defaultValue = "cuda", description = "(default: ${DEFAULT-VALUE})")
    String backend;

    @Option(names = "--dtype", paramLabel = "TYPE", defaultValue = "float32",
            description = "float32, float16 or bfloat16 (default: ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--shape", paramLabel = "BxCxHxW", split = ",",
            description = "conv shapes (default: 32x96x56x56, 32x192x28x28, 32x384x14x14, 32x768x7x7 and the same at batch 128)")
    List<String> shapes;

    @Option(names = "--property", paramLabel = "NAME", defaultValue = "ss2d.cuda.dwconv",
            description = "the system property that picks the kernel (default: ${DEFAULT-VALUE})")
    String property;

    @Option(names = "--variants", paramLabel = "V", split = ",", defaultValue = "rows,v2",
            description = "its values, timed in turn (default: ${DEFAULT-VALUE})")
    List<String> variants;

    @Option(names = "--rounds", defaultValue = "3", description = "rounds, variants alternating (default: ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--runs", defaultValue = "10", description = "block calls profiled per round (default: ${DEFAULT-VALUE})")
    int runs;

    @Override
    public Integer call() {
        CommandLine cl = spec.commandLine();
        Common.atLeast(cl, "--rounds", rounds, 1);
        Common.atLeast(cl, "--runs", runs, 1);
        DType dt = DType.byName(dtype);
        if (dt == null) throw new CommandLine.ParameterException(cl, "--dtype: expected float32, float16 or bfloat16, got " + dtype);
        List<long[]> parsed = new ArrayList<>();
        List<String> given = shapes != null ? shapes : List.of("32x96x56x56", "32x192x28x28", "32x384x14x14", "32x768x7x7",
                "128x96x56x56", "128x192x28x28", "128x384x14x14", "128x768x7x7");
        for (String s : given) {
            String[] p = s.trim().split("x");
            long[] v = new long[4];
            try {
                if (p.length != 4) throw new NumberFormatException();
                for (int i = 0; i < 4; i++) v[i] = Long.parseLong(p[i]);
            } catch (NumberFormatException e) {
                throw new CommandLine.ParameterException(cl, "--shape: expected BxCxHxW (four positive integers), got " + s);
            }
            for (long x : v) Common.atLeast(cl, "--shape", x, 1);
            parsed.add(v);
        }
        org.ss2d.spi.Backend be;
        try {
            be = org.ss2d.Backends.get(backend);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, "--backend: " + e.getMessage());
        }
        if (!be.capabilities().deviceResident()) {
            throw new CommandLine.ParameterException(cl, "--backend: expected a device backend (the step is timed with "
                    + "device events), got " + be.name());
        }
        List<DwconvBench.Result> rs = DwconvBench.run(new DwconvBench.Config(backend, dt, parsed, property, variants,
                rounds, runs, 42));
        PrintWriter out = cl.getOut();
        for (DwconvBench.Result r : rs) {
            out.printf(Locale.ROOT, "dwconv %s %dx%dx%dx%d %s=%s: conv_silu %.4f ms, floor %.4f ms (copy %.0f GB/s), %.2fx floor, check %.1e%n",
                    r.dtype(), r.batch(), r.channels(), r.height(), r.width(), property, r.variant(), r.convMs(),
                    r.floorMs(), r.copyGbPerS(), r.ratio(), r.checkRelErr());
        }
        return 0;
    }
}
