package example;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.ss2d.Ss2d;
import org.ss2d.interop.safetensors.SafeTensorsFile;
import org.ss2d.interop.safetensors.SafeTensorsWriter;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * A program written from the README's "Use it from Maven or Gradle" section alone: the code between
 * the markers is the README's, word for word (cli ReadmeSampleTest checks it). The build of the parent
 * folder (maven-invoker-plugin) compiles and runs it against freshly installed ss2d artifacts.
 */
public final class Consumer {
    public static void main(String[] args) throws Exception {
        // BEGIN README
        Ss2d ss = Ss2d.auto();                          // the best backend on the class path: cpu here
        try (TensorScope scope = TensorScope.root("example")) {
            // 1. Mamba's selective_scan_fn(u, delta, A, B, C, D, delta_softplus=True)
            int batch = 2, dim = 16, seqlen = 64, dstate = 4;
            Tensor u = RandomWeights.gaussian(scope, 1, 1.0, batch, dim, seqlen);
            Tensor delta = RandomWeights.gaussian(scope, 2, 0.5, batch, dim, seqlen);
            Tensor A = RandomWeights.uniform(scope, 3, -2.0, -0.1, dim, dstate);
            Tensor B = RandomWeights.gaussian(scope, 4, 1.0, batch, 1, dstate, seqlen);
            Tensor C = RandomWeights.gaussian(scope, 5, 1.0, batch, 1, dstate, seqlen);
            Tensor D = RandomWeights.gaussian(scope, 6, 1.0, dim);
            ScanArgs scan = ScanArgs.builder(u, delta, A, B, C).D(D).deltaSoftplus(true).build();
            try (ScanArgs.Result r = ss.selectiveScan(scope, scan)) {
                System.out.println("scan on " + ss.lastBackend().name() + ": " + r.out().describe());
            }

            // 2. An SS2D block from a state dict: VMamba's parameter names -> tensors
            SS2DConfig config = SS2DConfig.of(32, 1, 2.0);           // d_model, d_state, ssm_ratio
            Map<String, Tensor> stateDict = RandomWeights.ss2d(scope, config, 7).asMap();  // stands in for yours
            SS2DWeights weights = SS2DWeights.fromStateDict(config, stateDict, "");
            Tensor x = RandomWeights.gaussian(scope, 8, 1.0, 1, 32, 8, 8);          // (batch, d_model, H, W)
            Tensor y = ss.ss2d(scope, weights, x);
            System.out.println("ss2d: " + y.describe());

            // 3. The same weights through a safetensors checkpoint (PyTorch: save_file(model.state_dict(), path))
            Path file = Files.createTempFile("ss2d-example", ".safetensors");
            SafeTensorsWriter.write(file, stateDict, Map.of());
            try (SafeTensorsFile checkpoint = SafeTensorsFile.open(file, scope)) {
                Tensor again = ss.ss2d(scope, checkpoint.ss2d(config, ""), x);
                float worst = 0;
                for (long i = 0; i < y.elementCount(); i++) {
                    worst = Math.max(worst, Math.abs(y.getFloat(i) - again.getFloat(i)));
                }
                System.out.println("from safetensors: max |difference| = " + worst);
                if (!(worst == 0)) throw new AssertionError("the checkpoint's weights gave another result");
            } finally {
                Files.delete(file);
            }
            scope.release();                            // frees every tensor of the scope at once
        }
        // END README
    }
}
