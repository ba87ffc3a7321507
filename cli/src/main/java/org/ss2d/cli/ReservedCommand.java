package org.ss2d.cli;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.List;

/**
 * {@code ss2d conformance} and {@code ss2d bench} are run by classes of the conformance and bench
 * modules, found by name at run time so that this module never compiles against them: a class with
 * {@code public static int run(PrintWriter out, PrintWriter err, String... args)} returning the exit
 * status. Until it exists the command says which issue brings it and exits 2.
 */
abstract class ReservedCommand {
    static int delegate(String runner, String command, String issue, List<String> args, java.io.PrintWriter out,
                        java.io.PrintWriter err) {
        MethodHandle h;
        try {
            Class<?> c = Class.forName(runner);
            h = MethodHandles.publicLookup().findStatic(c, "run", MethodType.methodType(int.class,
                    java.io.PrintWriter.class, java.io.PrintWriter.class, String[].class));
        } catch (ClassNotFoundException | NoSuchMethodException | IllegalAccessException e) {
            err.println("ss2d " + command + ": comes with issue " + issue + " (" + runner + " is not on the class path yet)");
            return Main.REJECTED;
        }
        try {
            return (int) h.invoke(out, err, args.toArray(String[]::new));
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
