package org.ss2d.conformance;

import org.ss2d.interop.cases.OpKind;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.ss2d.Backends;
import org.ss2d.Ss2d;
import org.ss2d.model.RandomWeights;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.ops.ScanArgs;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.SS2DRef;
import org.ss2d.reference.ScanRef;
import org.ss2d.spi.Backend;
import org.ss2d.tensor.DType;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Device-resident chaining on backends that keep tensors in their own memory (CUDA): upload once, run
 * cross scan, selective scan and SS2D on device tensors into device outputs poisoned with NaN, download
 * once, compare with the float64 reference. Host backends are not concerned; where no device-resident
 * backend is available (CI) the test is skipped with the reasons.
 */
class DeviceResidencyTest {
    static List<String> deviceBackends() {
        return Targets.available().stream().filter(n -> Backends.get(n).capabilities().deviceResident()).toList();
    }

    @TestFactory
    Stream<DynamicTest> chainedOpsOnDeviceTensors() {
        List<String> dev = deviceBackends();
        if (dev.isEmpty()) {
            return Stream.of(DynamicTest.dynamicTest("device residency: skipped, no device-resident backend available",
                    () -> Assumptions.assumeTrue(false, "no device-resident backend available: " + Backends.reasons())));
        }
        return dev.stream().map(b -> DynamicTest.dynamicTest("[" + b + "] upload once, scan + SS2D on device, download once",
                () -> chain(b)));
    }

    static Tensor poisonedOn(Ss2d ss, TensorScope scope, long... shape) {
        Tensor host = scope.allocate(DType.F32, shape).fill(Float.NaN);
        Tensor d = ss.toDevice(scope, host);
        host.close();
        return d;
    }

    static void chain(String name) {
        Ss2d ss = Ss2d.on(name);
        Backend b = ss.backend();
        TensorScope scope = TensorScope.root("device-chain");
        try {
            // selective scan, grouped B/C with every option
            Tensor u = RandomWeights.gaussian(scope, 1, 1, 2, 8, 130), delta = RandomWeights.uniform(scope, 2, -4, 1, 2, 8, 130);
            Tensor a = RandomWeights.uniform(scope, 3, -2, -0.1, 8, 4), bb = RandomWeights.gaussian(scope, 4, 1, 2, 2, 4, 130);
            Tensor cc = RandomWeights.gaussian(scope, 5, 1, 2, 2, 4, 130), d = RandomWeights.gaussian(scope, 6, 1, 8);
            Tensor z = RandomWeights.gaussian(scope, 7, 1, 2, 8, 130), bias = RandomWeights.gaussian(scope, 8, 0.5, 8);
            ScanArgs host = ScanArgs.builder(u, delta, a, bb, cc).D(d).z(z).deltaBias(bias).deltaSoftplus(true)
                    .returnLastState(true).build();
            ScanArgs onDev = ScanArgs.builder(ss.toDevice(scope, u), ss.toDevice(scope, delta), ss.toDevice(scope, a),
                    ss.toDevice(scope, bb), ss.toDevice(scope, cc)).D(ss.toDevice(scope, d)).z(ss.toDevice(scope, z))
                    .deltaBias(ss.toDevice(scope, bias)).deltaSoftplus(true).returnLastState(true).build();
            Tensor out = poisonedOn(ss, scope, 2, 8, 130), last = poisonedOn(ss, scope, 2, 8, 4);
            assertTrue(!out.isHost(), "[" + name + "] outputs should live on the device: " + out.describe());
            ss.selectiveScanInto(onDev, out, last);
            ScanRef.Result ref = ScanRef.run(ScanRef.Problem.of(host, org.ss2d.validate.Validator.selectiveScan(host,
                    b.capabilities(), name)));
            check(name, "selective_scan out", OpKind.SELECTIVE_SCAN, ref.out(), ss.toHost(scope, out));
            check(name, "selective_scan last_state", OpKind.SELECTIVE_SCAN, ref.lastState(), ss.toHost(scope, last));

            // SS2D with weights uploaded once
            SS2DConfig c = SS2DConfig.of(16, 2, 2.0).withConvBias(true);
            SS2DWeights w = RandomWeights.ss2d(scope, c, 9);
            SS2DWeights wd = new SS2DWeights(c, ss.toDevice(scope, w.inProjWeight()), ss.toDevice(scope, w.conv2dWeight()),
                    ss.toDevice(scope, w.conv2dBias()), ss.toDevice(scope, w.xProjWeight()), ss.toDevice(scope, w.dtProjsWeight()),
                    ss.toDevice(scope, w.dtProjsBias()), ss.toDevice(scope, w.aLogs()), ss.toDevice(scope, w.ds()),
                    ss.toDevice(scope, w.outNormWeight()), ss.toDevice(scope, w.outNormBias()), ss.toDevice(scope, w.outProjWeight()));
            Tensor x = RandomWeights.gaussian(scope, 10, 1, 2, 16, 5, 7);
            Tensor y = poisonedOn(ss, scope, 2, 16, 5, 7);
            ss.ss2dInto(wd, ss.toDevice(scope, x), y);
            check(name, "ss2d", OpKind.SS2D, SS2DRef.forward(SS2DRef.Params.of(w), Doubles.of(x), 2, 5, 7), ss.toHost(scope, y));
            assertTrue(name.equals(ss.lastBackend().name()), "ran on " + ss.lastBackend().name());
        } finally {
            scope.release();
        }
    }

    static void check(String backend, String what, OpKind op, double[] expected, Tensor actual) {
        Comparison cmp = Tolerances.compare(expected, actual.toFloatArray(), Tolerances.relative(op, DType.F32));
        assertTrue(cmp.pass(), "[" + backend + "] " + what + " f32 " + actual.describe() + " on device: " + cmp.detail());
    }
}
