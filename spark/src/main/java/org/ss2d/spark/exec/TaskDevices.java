package org.ss2d.spark.exec;

import java.util.Map;
import org.apache.spark.SparkContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.ss2d.Backends;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * The GPU that Spark's resource scheduling gave a task ({@code spark.executor.resource.gpu.amount},
 * {@code spark.task.resource.gpu.amount}) chooses the CUDA device: {@code auto} and {@code cuda} become
 * {@code cuda:N} for the task's first GPU address, so that the executors of a host with several GPUs
 * each use their own. In local mode the driver's GPU resource stands in for the task's (see
 * {@link #localDriverResources()}). Without a GPU resource, or without an available CUDA backend, the name stays.
 */
final class TaskDevices {
    private TaskDevices() {}

    static String backendFor(String requested) {
        TaskContext tc = TaskContext.get();
        if (tc == null) return requested;
        Map<String, ResourceInformation> resources = tc.resourcesJMap();
        return backendFor(requested, resources.containsKey("gpu") ? resources : localDriverResources());
    }

    /**
     * In local mode Spark offers tasks no resources at all: {@code LocalEndpoint.reviveOffers} makes its one
     * {@code WorkerOffer} with the default, empty {@code ExecutorResourcesAmounts}, so a task asking for
     * {@code spark.task.resource.gpu.amount} is never launched and one asking nothing holds no GPU. The
     * executor is the driver's JVM there, and the driver's resources ({@code spark.driver.resource.gpu.amount}
     * with its discovery script) are the host's GPUs the job was given: the tasks use the driver's first.
     */
    static Map<String, ResourceInformation> localDriverResources() {
        SparkEnv env = SparkEnv.get();
        if (env == null || !"driver".equals(env.executorId())) return Map.of();
        return scala.jdk.javaapi.CollectionConverters.asJava(SparkContext.getOrCreate().resources());
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
