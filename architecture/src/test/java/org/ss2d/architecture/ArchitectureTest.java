package org.ss2d.architecture;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.CompositeArchRule;
import com.tngtech.archunit.library.freeze.FreezingArchRule;

/**
 * The module boundaries of ss2d, checked on every module's main classes by {@code ./mvnw verify}.
 * Read top to bottom, this is the architecture:
 *
 * <pre>
 *   cli, bench, conformance,           use backends through the SPI (org.ss2d.Backends, org.ss2d.spi)
 *   interop, spark
 *        |                             and the float64 oracle (reference); never a backend's classes
 *   backend-cpu  backend-cuda  reference   each implements org.ss2d.spi; none knows another
 *        |            |
 *        |         bindings            FFM bindings to the CUDA driver and cuBLAS: knows nothing of ours
 *   api (org.ss2d, .spi, .tensor, .ops, .model, .validate)   backend- and format-neutral
 * </pre>
 *
 * and no package takes part in a dependency cycle. {@code RulesCatchViolationsTest} shows each rule
 * failing on classes built to break it.
 */
@AnalyzeClasses(packages = "org.ss2d", importOptions = ImportOption.DoNotIncludeTests.class)
public class ArchitectureTest {
    // The modules, by the packages their classes live in. The api is everything else under org.ss2d.
    static final String REFERENCE = "org.ss2d.reference..";
    static final String BINDINGS = "org.ss2d.bindings..";
    static final String CPU = "org.ss2d.cpu..";
    static final String CUDA = "org.ss2d.cuda..";
    static final String CONFORMANCE = "org.ss2d.conformance..";
    static final String CLI = "org.ss2d.cli..";
    static final String BENCH = "org.ss2d.bench..";
    static final String INTEROP = "org.ss2d.interop..";
    static final String SPARK = "org.ss2d.spark..";
    static final String ARCHITECTURE = "org.ss2d.architecture..";

    static final DescribedPredicate<JavaClass> API = resideInAPackage("org.ss2d..")
            .and(not(resideInAnyPackage(REFERENCE, BINDINGS, CPU, CUDA, CONFORMANCE, CLI, BENCH, INTEROP, SPARK, ARCHITECTURE)))
            .as("the api (org.ss2d and its packages outside the other modules)");

    /** The api knows no backend, no native binding, no file format, no command line. */
    @ArchTest
    static final ArchRule API_IS_NEUTRAL = noClasses().that(API)
            .should().dependOnClassesThat().resideInAnyPackage(REFERENCE, CPU, CUDA, BINDINGS, INTEROP, CLI, CONFORMANCE,
                    BENCH, SPARK)
            .because("backends plug in through org.ss2d.spi, and formats and tools build on the api, not the reverse")
            .allowEmptyShould(true);

    /** A backend never reaches into another one (the reference oracle included). */
    @ArchTest
    static final ArchRule BACKENDS_ARE_INDEPENDENT = CompositeArchRule
            .of(noClasses().that().resideInAPackage(CPU).should().dependOnClassesThat().resideInAnyPackage(CUDA, REFERENCE))
            .and(noClasses().that().resideInAPackage(CUDA).should().dependOnClassesThat().resideInAnyPackage(CPU, REFERENCE))
            .and(noClasses().that().resideInAPackage(REFERENCE).should().dependOnClassesThat().resideInAnyPackage(CPU, CUDA))
            .because("each backend is found through ServiceLoader and may be absent")
            .allowEmptyShould(true);

    /** Tools and formats reach compute backends only through the SPI (Backends, Backend, BackendOptions). */
    @ArchTest
    static final ArchRule CLIENTS_USE_THE_SPI = noClasses().that().resideInAnyPackage(CONFORMANCE, CLI, BENCH, INTEROP, SPARK)
            .should().dependOnClassesThat().resideInAnyPackage(CPU, CUDA, BINDINGS)
            .because("backend modules are runtime dependencies of these modules: the compiler must not need them")
            .allowEmptyShould(true);

    /** The bindings are FFM code over C libraries and use nothing of ours. */
    @ArchTest
    static final ArchRule BINDINGS_STAND_ALONE = noClasses().that().resideInAPackage(BINDINGS)
            .should().dependOnClassesThat(resideInAPackage("org.ss2d..").and(not(resideInAPackage(BINDINGS))))
            .because("only the CUDA backend builds on them, and they must be usable (and testable) alone")
            .allowEmptyShould(true);

    /** No cycle between any two packages. */
    static final ArchRule NO_PACKAGE_CYCLES = slices().matching("org.ss2d.(**)").should().beFreeOfCycles()
            .allowEmptyShould(true);

    /**
     * {@link #NO_PACKAGE_CYCLES} against the cycles known when the rule came in, which are listed in
     * {@code src/test/resources/archunit-frozen} (all through {@code org.ss2d.validate}: model and spi
     * throw its exceptions, and its Validator checks models against spi capabilities): any other cycle
     * fails, and one that goes away is dropped from the list. Moving the exception types out of
     * {@code validate} removes them.
     */
    @ArchTest
    static final ArchRule NO_NEW_PACKAGE_CYCLES = FreezingArchRule.freeze(NO_PACKAGE_CYCLES)
            .associateViolationLinesVia((known, found) -> cycle(known).equals(cycle(found)));

    /**
     * A cycle violation by its packages alone ({@code Slice model -> Slice validate -> Slice model}),
     * without the class-level dependencies listed under it: a known cycle stays known when code on it
     * changes, and only a cycle through other packages is new.
     */
    static String cycle(String violation) {
        int details = violation.indexOf("Dependencies of");
        String path = details < 0 ? violation : violation.substring(0, details);
        return path.replaceAll("\\s+", " ").replaceAll(" \\d+\\. $", "").trim();
    }
}
