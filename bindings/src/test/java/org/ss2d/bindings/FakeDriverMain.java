package org.ss2d.bindings;

import org.ss2d.bindings.cuda.CudaH;

/** Run by CudaDriverProbeTest in a child JVM whose loader path holds the fake libcuda.so.1. */
public final class FakeDriverMain {
    private FakeDriverMain() {}

    public static void main(String[] args) {
        CudaDriver.Probe p = CudaDriver.probe();
        System.out.println("probe=" + (p.available() ? "available" : p.reason()));
        if (args.length > 0 && args[0].equals("errors")) {
            // The generated class loads (the library exists) and the error path names the call.
            System.out.println("major=" + (CudaH.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR()
                    == CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR));
            System.out.println("minor=" + (CudaH.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR()
                    == CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR));
            try {
                CudaDriver.check(2, "cuMemAlloc_v2", "1024 bytes");
            } catch (CudaOutOfMemoryException e) {
                System.out.println("oom=" + e.getMessage());
            }
            try {
                CudaDriver.check(100, "cuInit");
            } catch (CudaException e) {
                System.out.println("error=" + e.getMessage() + " name=" + e.errorName());
            }
        }
    }
}
