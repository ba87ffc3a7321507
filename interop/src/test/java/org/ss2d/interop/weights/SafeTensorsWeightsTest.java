package org.ss2d.interop.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.ss2d.interop.safetensors.SafeTensorsFile;
import org.ss2d.interop.testing.Fixtures;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.reference.Doubles;
import org.ss2d.reference.SS2DRef;
import org.ss2d.reference.VSSRef;
import org.ss2d.tensor.Tensor;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * Weights written by PyTorch ({@code make_safetensors_fixture.py}) load under VMamba's names and,
 * run through a float64 SS2D / VSS block, give PyTorch's float64 outputs of the same file.
 */
class SafeTensorsWeightsTest {
    private static final Path BLOCKS = Fixtures.resource("safetensors/vmamba_blocks.safetensors");
    private static final Path EXPECTED = Fixtures.resource("safetensors/vmamba_blocks_expected.safetensors");
    private static final Path DTYPES = Fixtures.resource("safetensors/dtypes.safetensors");
    private static final int B = 2, H = 5, W = 6;
    /** Same float32 weights, float64 arithmetic on both sides: only rounding order differs. */
    private static final double TOL = 1e-10;

    private static SS2DConfig config(SafeTensorsFile f, String block) throws Exception {
        JsonNode c = new ObjectMapper().readTree(f.metadata().get(block));
        return new SS2DConfig(c.get("d_model").asInt(), c.get("d_state").asInt(), c.get("ssm_ratio").asDouble(),
                c.get("dt_rank").asInt(), c.get("d_conv").asInt(), c.get("conv_bias").asBoolean());
    }

    @Test
    void ss2dWeightsUnderAPrefixComputePyTorchsBlock() throws Exception {
        try (SafeTensorsFile f = SafeTensorsFile.open(BLOCKS); SafeTensorsFile ex = SafeTensorsFile.open(EXPECTED)) {
            double[] x = Doubles.of(ex.load("x"));
            for (int i = 0; i < 2; i++) {
                String prefix = "layers.0.blocks." + i + ".op."; // the checkpoint's own names
                SS2DConfig c = config(f, "layers.0.blocks." + i);
                assertEquals(c, Weights.inferSs2dConfig(f, prefix), "config inferred from shapes, block " + i);
                SS2DWeights w = f.ss2d(c, prefix);
                // Zero copy: float32 weights are views of the mapped file.
                assertEquals(f.bytes(prefix + SS2DWeights.IN_PROJ).address(), w.inProjWeight().segment().address());
                compare("ss2d block " + i + " " + c, ex, "ss2d." + i, SS2DRef.forward(SS2DRef.Params.of(w), x, B, H, W));
            }
        }
    }

    @Test
    void vssBlocksComputePyTorchsBlocks() throws Exception {
        try (SafeTensorsFile f = SafeTensorsFile.open(BLOCKS); SafeTensorsFile ex = SafeTensorsFile.open(EXPECTED)) {
            double[] x = Doubles.of(ex.load("x"));
            for (int i = 0; i < 2; i++) {
                SS2DConfig c = config(f, "layers.0.blocks." + i);
                VSSWeights w = f.vss(c, 4.0, "layers.0.blocks." + i); // the trailing dot is optional
                compare("vss block " + i + " " + c, ex, "vss." + i, VSSRef.forward(VSSRef.Params.of(w), x, B, H, W));
            }
        }
    }

    @Test
    void bfloat16CheckpointLoadsConvertedAndComputesThatBlock() throws Exception {
        try (SafeTensorsFile f = SafeTensorsFile.open(DTYPES); SafeTensorsFile ex = SafeTensorsFile.open(EXPECTED)) {
            String prefix = "layers.0.blocks.1.op.";
            assertEquals("BF16", f.dtypeOf(prefix + SS2DWeights.IN_PROJ));
            SS2DConfig c = config(f, "layers.0.blocks.1.op");
            SS2DWeights w = f.ss2d(c, prefix);
            compare("ss2d bf16 " + c, f, "ss2d_bf16", SS2DRef.forward(SS2DRef.Params.of(w), Doubles.of(ex.load("x")), B, H, W));
        }
    }

    @Test
    void halfBfloatAndDoubleConvertLikePyTorch() {
        try (SafeTensorsFile f = SafeTensorsFile.open(DTYPES)) {
            int checked = 0;
            for (String dt : new String[] {"f16", "bf16", "f64"}) {
                for (String what : new String[] {"specials", "random"}) {
                    String key = dt + "." + what;
                    Tensor got = f.load(key);
                    Tensor want = f.load(key + ".as_f32");
                    assertEquals(want.elementCount(), got.elementCount(), key);
                    for (long i = 0; i < got.elementCount(); i++) {
                        float g = got.getFloat(i), e = want.getFloat(i);
                        boolean same = Float.isNaN(e) ? Float.isNaN(g) : Float.floatToRawIntBits(g) == Float.floatToRawIntBits(e);
                        if (!same) fail(key + "[" + i + "] (" + f.dtypeOf(key) + " to f32): PyTorch " + e + ", we " + g);
                        checked++;
                    }
                }
            }
            assertTrue(checked > 60, "compared " + checked + " values");
        }
    }

    @Test
    void errorsNameTheCheckpointKey() throws Exception {
        try (SafeTensorsFile f = SafeTensorsFile.open(BLOCKS)) {
            SS2DConfig c1 = config(f, "layers.0.blocks.1");
            // Wrong config: d_state 3 where the file has 2 -> a shape error on the file's own key.
            var shape = assertThrows(Ss2dArgumentException.class,
                    () -> f.ss2d(new SS2DConfig(8, 3, 2.0, 1, 3, true), "layers.0.blocks.1.op."));
            assertEquals("layers.0.blocks.1.op.x_proj_weight", shape.argument(), shape.getMessage());
            assertTrue(shape.getMessage().contains("(4, 7, 16)") && shape.getMessage().contains("(4, 5, 16)"), shape.getMessage());
            // Conv bias in the config but not in block 0 -> missing key.
            var missing = assertThrows(Ss2dArgumentException.class,
                    () -> f.ss2d(config(f, "layers.0.blocks.0").withConvBias(true), "layers.0.blocks.0.op"));
            assertEquals("layers.0.blocks.0.op.conv2d.bias", missing.argument(), missing.getMessage());
            // No conv bias in the config but the file has one -> unexpected key.
            var extra = assertThrows(Ss2dArgumentException.class,
                    () -> f.ss2d(c1.withConvBias(false), "layers.0.blocks.1.op."));
            assertEquals("layers.0.blocks.1.op.conv2d.bias", extra.argument(), extra.getMessage());
            assertTrue(extra.getMessage().contains("unexpected key"), extra.getMessage());
            // A block prefix where the SS2D prefix was meant -> the block's own parameters are unexpected.
            var wrongLevel = assertThrows(Ss2dArgumentException.class, () -> f.ss2d(c1, "layers.0.blocks.1."));
            assertTrue(wrongLevel.getMessage().contains("missing key"), wrongLevel.getMessage());
            // A prefix that does not exist -> missing keys, with a hint of what the file has.
            var wrongPrefix = assertThrows(Ss2dArgumentException.class, () -> f.ss2d(c1, "model.layers.0.blocks.1.op."));
            assertEquals("model.layers.0.blocks.1.op.in_proj.weight", wrongPrefix.argument());
            assertTrue(wrongPrefix.getMessage().contains("\"layers.0.blocks.1.op.\""), wrongPrefix.getMessage());
            // mlp_ratio that does not fit the file -> shape error on fc1.
            var mlp = assertThrows(Ss2dArgumentException.class, () -> f.vss(c1, 2.0, "layers.0.blocks.1."));
            assertEquals("layers.0.blocks.1.mlp.fc1.weight", mlp.argument(), mlp.getMessage());
        }
    }

    @Test
    void aNonFloatParameterIsABadDtypeNamingTheKey() throws Exception {
        Path p = Path.of(System.getProperty("java.io.tmpdir"), "bad-dtype-" + ProcessHandle.current().pid() + ".safetensors");
        try (SafeTensorsFile f = SafeTensorsFile.open(BLOCKS)) {
            // Re-write block 1's op with Ds stored as int64, as a broken converter might.
            var sb = new StringBuilder("{");
            var data = new java.io.ByteArrayOutputStream();
            String prefix = "layers.0.blocks.1.op.";
            for (String k : f.keys()) {
                if (!k.startsWith(prefix)) continue;
                byte[] bytes = f.bytes(k).toArray(ValueLayout.JAVA_BYTE);
                String dtype = "F32";
                long[] shape = f.shapeOf(k);
                if (k.endsWith(".Ds")) {
                    dtype = "I64";
                    bytes = new byte[bytes.length * 2];
                }
                if (sb.length() > 1) sb.append(',');
                sb.append('"').append(k).append("\":{\"dtype\":\"").append(dtype).append("\",\"shape\":")
                        .append(java.util.Arrays.toString(shape)).append(",\"data_offsets\":[").append(data.size())
                        .append(',').append(data.size() + bytes.length).append("]}");
                data.write(bytes);
            }
            byte[] h = sb.append('}').toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            var out = java.nio.ByteBuffer.allocate(8 + h.length + data.size()).order(ByteOrder.LITTLE_ENDIAN);
            out.putLong(h.length).put(h).put(data.toByteArray());
            java.nio.file.Files.write(p, out.array());
            try (SafeTensorsFile bad = SafeTensorsFile.open(p)) {
                assertFalse(bad.isFloat(prefix + "Ds"));
                var e = assertThrows(Ss2dArgumentException.class, () -> bad.ss2d(config(f, "layers.0.blocks.1"), prefix));
                assertEquals(prefix + "Ds", e.argument(), e.getMessage());
                assertTrue(e.getMessage().contains("I64"), e.getMessage());
            }
        } finally {
            java.nio.file.Files.deleteIfExists(p);
        }
    }

    private static void compare(String what, SafeTensorsFile ex, String key, double[] got) {
        assertEquals("F64", ex.dtypeOf(key), key);
        MemorySegment want = ex.bytes(key);
        assertEquals(want.byteSize() / 8, got.length, what + ": element count");
        var le = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        double max = 0;
        for (int i = 0; i < got.length; i++) max = Math.max(max, Math.abs(want.getAtIndex(le, i)));
        assertTrue(max > 0.1, what + ": the expected output is not degenerate (max " + max + ")");
        for (int i = 0; i < got.length; i++) {
            double e = want.getAtIndex(le, i);
            if (!(Math.abs(got[i] - e) <= TOL * max)) {
                fail(what + " (backend: float64 test forward, dtype f64, shape (" + B + ", 8, " + H + ", " + W
                        + ")): element " + i + " is " + got[i] + ", PyTorch float64 gives " + e + " (tol " + TOL + " x " + max + ")");
            }
        }
    }
}
