package org.ss2d.spark.exec;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.interop.safetensors.SafeTensorsFile;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.spi.BackendOptions;
import org.ss2d.tensor.Tensor;

/**
 * One VMamba model of an executor JVM: the checkpoint memory-mapped (its float32 tensors are zero-copy
 * views of the file), the backend's prepared form of the weights, and its workspaces. Tasks of the
 * executor share it; the model serialises their calls while they decode and preprocess in parallel.
 */
final class LoadedModel implements AutoCloseable {
    private final SafeTensorsFile file;
    private final VMambaModel model;
    /**
     * The model serialises its calls itself; taking this lock first (the same order, one holder) lets a task
     * tell the wait for the other tasks' calls from its own call.
     */
    private final ReentrantLock calls = new ReentrantLock();

    private LoadedModel(SafeTensorsFile file, VMambaModel model) {
        this.file = file;
        this.model = model;
    }

    static LoadedModel open(String weights, String modelName, String backend, int threads) {
        SafeTensorsFile file = SafeTensorsFile.open(Path.of(weights));
        try {
            VMambaWeights w = Checks.weights(file, weights, modelName);
            VMambaModel m = VMambaModel.of(Facades.of(backend, threads), w);
            if (threads > 0 && Facades.isAuto(backend) && m.backend().name().equals("cpu")) {
                // auto chose the CPU: rebuild on a CPU backend with the executor's thread count.
                m.close();
                m = VMambaModel.of(Ss2d.on(Backends.create("cpu", BackendOptions.threads(threads))), w);
            }
            return new LoadedModel(file, m);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    VMambaConfig config() {
        return model.config();
    }

    String backendName() {
        return model.backend().name();
    }

    /** The logits of a batch; the time until the executor's other tasks are out of the model is {@code MODEL_WAIT}. */
    Tensor logits(org.ss2d.tensor.TensorScope scope, Tensor x, StageTimes.Clock clock) {
        calls.lock();
        try {
            clock.lap(StageTimes.Stage.MODEL_WAIT);
            return model.logits(scope, x);
        } finally {
            calls.unlock();
        }
    }

    List<Tensor> features(org.ss2d.tensor.TensorScope scope, Tensor x, StageTimes.Clock clock) {
        calls.lock();
        try {
            clock.lap(StageTimes.Stage.MODEL_WAIT);
            return model.features(scope, x);
        } finally {
            calls.unlock();
        }
    }

    @Override
    public void close() {
        model.close();
        file.close();
    }
}
