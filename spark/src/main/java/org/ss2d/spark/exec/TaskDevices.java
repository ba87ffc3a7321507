package org.ss2d.spark.exec;

import java.util.Map;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.ss2d.Backends;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The GPU that Spark's resource scheduling gave a task ({@code spark.executor.resource.gpu.amount},
 * {@code spark.task.resource.gpu.amount}) chooses the CUDA device: {@code auto} and {@code cuda} become
 * {@code cuda:N} for the task's first GPU address, so that the executors of a host with several GPUs
 * each use their own. Without a GPU resource, or without an available CUDA backend, the name stays.
 */
final class TaskDevices {
    private TaskDevices() {}

    static String backendFor(String requested) {
        TaskContext tc = TaskContext.get();
        if (tc == null) return requested;
        return backendFor(requested, tc.resourcesJMap());
    }

    static String backendFor(String requested, Map<String, ResourceInformation> resources) {
        ResourceInformation gpu = resources.get("gpu");
        if (gpu == null || gpu.addresses().length == 0) return requested;
        boolean auto = Facades.isAuto(requested);
        if (!auto && !requested.equalsIgnoreCase("cuda")) return requested; // cpu, cuda:N, reference: as asked
        if (auto && Backends.list().stream().noneMatch(e -> e.name().equals("cuda") && e.available())) return requested;
        String address = gpu.addresses()[0].trim();
        if (!address.matches("[0-9]{1,9}")) {
            throw new Ss2dArgumentException("gpu resource address", "a CUDA device number (from the discovery script)",
                    "\"" + address + "\"", null);
        }
        return "cuda:" + address;
    }
}
