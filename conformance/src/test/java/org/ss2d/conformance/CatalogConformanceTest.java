package org.ss2d.conformance;

import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.TestFactory;
import org.ss2d.conformance.cases.Catalog;

/** The catalog on every backend under test, each case against the float64 reference. */
class CatalogConformanceTest {
    @TestFactory
    Stream<DynamicNode> selectiveScan() {
        return Targets.perBackend("selective_scan", Catalog.scans());
    }

    @TestFactory
    Stream<DynamicNode> selectiveScanOnHalfInputs() {
        return Targets.perBackend("selective_scan float16/bfloat16", Catalog.halfScans());
    }

    @TestFactory
    Stream<DynamicNode> crossScanAndMerge() {
        return Targets.perBackend("cross_scan/cross_merge", Catalog.cross());
    }

    @TestFactory
    Stream<DynamicNode> ss2dAndVssBlocks() {
        return Targets.perBackend("ss2d/vss_block", Catalog.blocks());
    }

    @TestFactory
    Stream<DynamicNode> ss2dAndVssBlocksInHalfDtypes() {
        return Targets.perBackend("ss2d/vss_block bfloat16/float16", Catalog.halfBlocks());
    }
}
