package org.ss2d.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The Java field indices must match the C struct the kernels read (no GPU needed). */
class ScanParamsLayoutTest {
    private static final Path HEADER = Path.of("src/main/cuda/ss2d_params.h");

    @Test
    void javaIndicesFollowTheHeader() throws IOException {
        String h = Files.readString(HEADER);
        String body = h.substring(h.indexOf("typedef struct ScanParams {"), h.indexOf("} ScanParams;"));
        Matcher m = Pattern.compile("(?m)^\\s*(?:const )?(?:float\\*|int64_t)\\s+(\\w+);\\s*//\\s*(\\d+)").matcher(body);
        List<String> names = new ArrayList<>();
        while (m.find()) {
            assertEquals(names.size(), Integer.parseInt(m.group(2)), "index comment of " + m.group(1));
            names.add(m.group(1));
        }
        assertEquals(List.of(ScanParams.NAMES), names);
        assertEquals(ScanParams.FIELDS, names.size());
        assertTrue(h.contains("#define SS2D_SCAN_PARAM_FIELDS " + ScanParams.FIELDS));
        assertTrue(h.contains("#define SS2D_MAX_DSTATE " + ScanParams.MAX_DSTATE));
        assertTrue(h.contains("#define SS2D_SCAN_WARPS " + ScanParams.WARPS));
        assertEquals(ScanParams.C_STATE_STRIDE, names.indexOf("C_state_stride"));
        assertEquals(ScanParams.LAST_STATE, names.indexOf("last_state"));
    }

    @Test
    void backwardIndicesFollowTheHeader() throws IOException {
        String h = Files.readString(HEADER);
        String body = h.substring(h.indexOf("typedef struct ScanBwdParams {"), h.indexOf("} ScanBwdParams;"));
        Matcher m = Pattern.compile("(?m)^\\s*(?:const )?(?:float\\*|double\\*|int64_t)\\s+(\\w+);\\s*//\\s*(\\d+)")
                .matcher(body);
        List<String> names = new ArrayList<>();
        while (m.find()) {
            assertEquals(names.size(), Integer.parseInt(m.group(2)), "index comment of " + m.group(1));
            names.add(m.group(1));
        }
        assertEquals(List.of(ScanParams.BWD_NAMES), names);
        assertEquals(ScanParams.BWD_FIELDS, names.size());
        assertTrue(h.contains("#define SS2D_SCAN_BWD_PARAM_FIELDS " + ScanParams.BWD_FIELDS));
        assertEquals(ScanParams.BWD_C_SLICE_STRIDE, names.indexOf("c_slice_stride"));
        assertEquals(ScanParams.BWD_ROWS, names.indexOf("rows"));
    }
}
