package org.ss2d.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.ss2d.Backends;
import org.ss2d.spi.Backend;
import org.ss2d.spi.Capabilities;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code ss2d backends}: every backend on the class path, available or not (with the reason), and its limits. */
@Command(name = "backends", description = "List the backends on the class path: availability (with the reason), "
        + "device, limits, dtypes.")
final class BackendsCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Table t = new Table("NAME", "AUTO", "DEVICE", "MAX DSTATE", "DTYPES", "STATUS");
        for (Backends.Entry e : Backends.list()) {
            String auto = e.provider().autoSelectable() ? "yes (rank " + e.provider().rank() + ")" : "no";
            if (!e.available()) {
                t.row(e.name(), auto, "-", "-", "-", "unavailable: " + e.availability().reason());
                continue;
            }
            try {
                Backend b = Backends.get(e.name());
                Capabilities c = b.capabilities();
                String dtypes = c.dtypes().stream().map(d -> d.name().toLowerCase(Locale.ROOT)).sorted()
                        .collect(Collectors.joining(","));
                t.row(e.name(), auto, c.device(), c.maxDstateText(), dtypes, "available");
            } catch (RuntimeException ex) {
                t.row(e.name(), auto, "-", "-", "-", "unavailable: creation failed: " + ex.getMessage());
            }
        }
        t.print(out);
        out.println();
        try {
            out.println("auto picks: " + Backends.best().name()
                    + " (force one with --backend NAME, -Dss2d.backend=NAME or SS2D_BACKEND=NAME)");
        } catch (RuntimeException ex) {
            out.println("auto picks: nothing: " + ex.getMessage());
        }
        return Main.OK;
    }
}
