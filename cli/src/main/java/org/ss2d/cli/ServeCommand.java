package org.ss2d.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.ss2d.cli.serve.EngineServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ss2d serve --socket PATH}: the local engine process of the Python package. It listens on a Unix
 * domain socket (in a folder only its user can enter) and runs ops on tensors that the client placed in
 * shared memory, so no tensor byte crosses the socket. The Python package starts it on first use and finds
 * it again afterwards; it exits after {@code --idle-exit} seconds without a client.
 */
@Command(name = "serve", description = "Run the local engine process for the Python package (Unix domain socket, shared memory).")
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--socket", required = true, paramLabel = "PATH",
            description = "the socket to listen on; its folder must belong to this user and be closed to others (mode 0700)")
    Path socket;

    @Option(names = "--idle-exit", paramLabel = "SECONDS", defaultValue = "900",
            description = "exit after this many seconds with no client connected (0: never; default ${DEFAULT-VALUE})")
    long idleExitSeconds;

    @Override
    public Integer call() throws Exception {
        if (idleExitSeconds < 0) {
            throw new Errors.Rejected("--idle-exit: expected seconds >= 0, found " + idleExitSeconds);
        }
        try (EngineServer server = EngineServer.bind(socket, idleExitSeconds * 1000)) {
            server.serve();
        }
        return Main.OK;
    }
}
