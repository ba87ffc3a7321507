package org.ss2d.architecture;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.EvaluationResult;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.ss2d.bench.archfixture.BenchUsesCpu;
import org.ss2d.bench.archfixture.BenchUsesSpi;
import org.ss2d.bindings.archfixture.BindingsUsesTensor;
import org.ss2d.cpu.archfixture.CpuThing;
import org.ss2d.cpu.archfixture.CpuUsesCuda;
import org.ss2d.cuda.archfixture.CudaThing;
import org.ss2d.interop.archfixture.FormatThing;
import org.ss2d.model.archfixture.CycleB;
import org.ss2d.ops.archfixture.CycleA;
import org.ss2d.spi.archfixture.ApiReadsCaseFiles;
import org.ss2d.tensor.archfixture.ApiUsesCpu;

/**
 * Each rule of {@link ArchitectureTest} against fixture classes (test sources, in the packages of
 * the modules they impersonate) that break it on purpose: the rule must report them, and must let
 * a well-behaved class pass. Without this a rule with a wrong package pattern would pass forever.
 */
class RulesCatchViolationsTest {
    private static final List<ArchRule> ALL = List.of(ArchitectureTest.API_IS_NEUTRAL,
            ArchitectureTest.BACKENDS_ARE_INDEPENDENT, ArchitectureTest.CLIENTS_USE_THE_SPI,
            ArchitectureTest.BINDINGS_STAND_ALONE, ArchitectureTest.NO_PACKAGE_CYCLES);

    private static JavaClasses load(Class<?>... classes) {
        return new ClassFileImporter().importClasses(classes);
    }

    private static void catches(ArchRule rule, String offender, Class<?>... classes) {
        EvaluationResult r = rule.evaluate(load(classes));
        assertTrue(r.hasViolation(), rule.getDescription() + " must catch " + offender);
        assertTrue(r.getFailureReport().toString().contains(offender), r.getFailureReport().toString());
    }

    @Test
    void apiImportingABackendOrAFormatFails() {
        catches(ArchitectureTest.API_IS_NEUTRAL, ApiUsesCpu.class.getName(), ApiUsesCpu.class, CpuThing.class);
        catches(ArchitectureTest.API_IS_NEUTRAL, ApiReadsCaseFiles.class.getName(), ApiReadsCaseFiles.class,
                FormatThing.class);
    }

    @Test
    void aBackendImportingAnotherFails() {
        catches(ArchitectureTest.BACKENDS_ARE_INDEPENDENT, CpuUsesCuda.class.getName(), CpuUsesCuda.class,
                CudaThing.class);
    }

    @Test
    void aToolImportingABackendClassFails() {
        catches(ArchitectureTest.CLIENTS_USE_THE_SPI, BenchUsesCpu.class.getName(), BenchUsesCpu.class, CpuThing.class);
    }

    @Test
    void bindingsImportingOurClassesFail() {
        catches(ArchitectureTest.BINDINGS_STAND_ALONE, BindingsUsesTensor.class.getName(), BindingsUsesTensor.class);
    }

    @Test
    void aPackageCycleFails() {
        catches(ArchitectureTest.NO_PACKAGE_CYCLES, CycleA.class.getName(), CycleA.class, CycleB.class);
        // the frozen rule tells a listed cycle from a new one by its packages, whatever the details say
        String known = "Cycle detected: Slice model -> \n                Slice validate -> \n                Slice model\n"
                + "  1. Dependencies of Slice model\n    - Method <org.ss2d.model.StateDicts.checkNames(...)> calls ...";
        String changedCode = known.replace("StateDicts.checkNames", "ConfigInference.shape");
        String otherCycle = known.replace("Slice validate", "Slice spi");
        assertTrue(ArchitectureTest.cycle(known).equals(ArchitectureTest.cycle(changedCode)));
        assertFalse(ArchitectureTest.cycle(known).equals(ArchitectureTest.cycle(otherCycle)));
    }

    @Test
    void aToolUsingTheSpiPassesEveryRule() {
        JavaClasses ok = load(BenchUsesSpi.class, CpuThing.class, CudaThing.class);
        for (ArchRule rule : ALL) {
            assertFalse(rule.evaluate(ok).hasViolation(), rule.getDescription());
        }
    }
}
