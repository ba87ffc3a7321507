package org.ss2d.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.arrow.memory.ArrowBuf;
import org.junit.jupiter.api.Test;

class TensorScopeTest {
    @Test
    void closingAScopeWithLiveTensorsThrowsNamingScopeAndBytes() {
        TensorScope root = TensorScope.root("root");
        TensorScope child = root.child("step");
        child.allocate(DType.F32, 2, 3);
        IllegalStateException e = assertThrows(IllegalStateException.class, root::close);
        assertTrue(e.getMessage().contains("root/step") && e.getMessage().contains("24 bytes"), e.getMessage());
    }

    @Test
    void useAfterCloseThrowsInsteadOfCrashing() {
        try (TensorScope root = TensorScope.root("t")) {
            Tensor t = root.fromArray(new float[] {1, 2, 3}, 3);
            var seg = t.segment();
            t.close();
            assertThrows(IllegalStateException.class, () -> t.getFloat(0));
            assertThrows(IllegalStateException.class, () -> seg.get(java.lang.foreign.ValueLayout.JAVA_FLOAT, 0));
        }
    }

    @Test
    void wrapSharesArrowMemoryWithoutCopy() {
        try (TensorScope root = TensorScope.root("w")) {
            ArrowBuf buf = root.allocator().buffer(64);
            buf.setFloat(8, 3.5f);
            try (Tensor t = root.wrap("x", buf, 8, DType.F32, 2, 2)) {
                buf.close(); // the tensor holds its own reference
                assertEquals(3.5f, t.get(0, 0));
                t.set(7f, 1, 1);
                assertEquals(t.arrowBuf().memoryAddress() + 8, t.segment().address());
                assertEquals(7f, t.arrowBuf().getFloat(8 + 12));
            }
        }
    }
}
