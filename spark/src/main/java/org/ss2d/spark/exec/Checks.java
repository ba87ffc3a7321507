package org.ss2d.spark.exec;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ss2d.interop.cases.CaseOptions;
import org.ss2d.interop.cases.ModelCalls;
import org.ss2d.interop.safetensors.SafeTensorsFile;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.tensor.Tensor;
import org.ss2d.validate.Ss2dArgumentException;

/** Checks shared by the driver (before any task) and the executors (when they load). */
public final class Checks {
    private Checks() {}

    /** The checkpoint's weights, checked against a released configuration name when one is given (as {@code ss2d classify} does). */
    public static VMambaWeights weights(SafeTensorsFile file, String label, String modelName) {
        Map<String, Tensor> dict = new LinkedHashMap<>();
        for (String k : file.keys()) if (file.isFloat(k)) dict.put(k, file.load(k));
        VMambaWeights w = VMambaWeights.fromStateDict(dict);
        if (modelName != null) {
            VMambaConfig named = VMambaConfig.named(modelName);
            try {
                ModelCalls.checkOptions(CaseOptions.of(Map.of("variant", named.name())), w.config(), false);
            } catch (Ss2dArgumentException e) {
                throw new Ss2dArgumentException("weights", label + " holding " + named.name(), w.config().toString(), null);
            }
        }
        return w;
    }

}
