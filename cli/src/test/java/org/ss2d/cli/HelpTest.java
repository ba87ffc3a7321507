package org.ss2d.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import picocli.CommandLine;

/** Every command and subcommand, also those added later, answers --help, -h and --version with exit 0. */
class HelpTest {
    /** Every command path of the tree: [], [backends], [bench], [bench, scan], ... */
    static List<List<String>> paths() {
        List<List<String>> out = new ArrayList<>();
        walk(Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter())), List.of(), out);
        return out;
    }

    private static void walk(CommandLine c, List<String> path, List<List<String>> out) {
        out.add(path);
        for (var e : c.getSubcommands().entrySet()) {
            if (e.getValue().getCommandSpec().name().equals("help")) continue; // picocli's `help` command takes a name
            if (!e.getKey().equals(e.getValue().getCommandName())) continue; // an alias
            List<String> p = new ArrayList<>(path);
            p.add(e.getKey());
            walk(e.getValue(), p, out);
        }
    }

    static MainTest.Result ss2d(List<String> path, String... more) {
        List<String> args = new ArrayList<>(path);
        args.addAll(List.of(more));
        return MainTest.ss2d(args.toArray(String[]::new));
    }

    @Test
    void theTreeHasTheCommandsTheReadmeLists() {
        List<String> top = paths().stream().filter(p -> p.size() == 1).map(p -> p.get(0)).toList();
        assertTrue(top.containsAll(List.of("backends", "run", "demo", "conformance", "bench")), top.toString());
    }

    @TestFactory
    Stream<DynamicTest> everyCommandAnswersHelpAndVersion() {
        return paths().stream().flatMap(path -> Stream.of("--help", "-h", "--version").map(opt ->
                DynamicTest.dynamicTest("ss2d " + String.join(" ", path) + " " + opt, () -> {
                    MainTest.Result r = ss2d(path, opt);
                    String what = "ss2d " + String.join(" ", path) + " " + opt + ": " + r;
                    assertEquals(0, r.status(), what);
                    assertEquals("", r.err(), what);
                    if (opt.equals("--version")) {
                        assertTrue(r.out().matches("(?s)ss2d \\d+\\.\\d+\\.\\d+(-SNAPSHOT)? on Java .*"), what);
                    } else {
                        String usage = "Usage: ss2d" + (path.isEmpty() ? "" : " " + String.join(" ", path));
                        assertTrue(r.out().startsWith(usage), what);
                        assertTrue(r.out().contains("-h, --help"), what);
                    }
                })));
    }

    @Test
    void theVersionIsTheBuildsNotALiteral() throws Exception {
        // version.properties is filtered by Maven: its value is the pom's version, never the placeholder.
        String pom = java.nio.file.Files.readString(java.nio.file.Path.of("pom.xml"));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("<parent>.*?<version>([^<]+)</version>",
                java.util.regex.Pattern.DOTALL).matcher(pom);
        assertTrue(m.find(), "cli/pom.xml names its parent's version");
        assertEquals(m.group(1), Main.Version.version());
        assertTrue(MainTest.ss2d("--version").out().startsWith("ss2d " + m.group(1) + " on Java "));
    }
}
