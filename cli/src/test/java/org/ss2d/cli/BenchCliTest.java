package org.ss2d.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code ss2d bench} (and demo): typed options with defaults in --help, errors naming the option (exit 2), JSON reports. */
class BenchCliTest {
    static MainTest.Result ss2d(String... args) {
        return MainTest.ss2d(args);
    }

    private static void assertRejected(MainTest.Result r, String line) {
        assertEquals(2, r.status(), r.out() + r.err());
        assertEquals(1, r.errLines().size(), "one line on stderr: " + r.err());
        assertTrue(r.err().contains(line), "expected '" + line + "' in: " + r.err());
    }

    @Test
    void helpListsTheBenchmarksAndTheirOptionsWithDefaults() {
        MainTest.Result bench = ss2d("bench", "--help");
        assertEquals(0, bench.status(), bench.err());
        assertTrue(bench.out().contains("scan") && bench.out().contains("block"), bench.out());
        MainTest.Result scan = ss2d("bench", "scan", "--help");
        for (String o : List.of("--batch=B", "default: 32", "--dim=D", "--groups=G", "--seqlen=L", "--dstate=N",
                "--backend=NAME", "--threads=T", "--warmup=CALLS", "--reps=CALLS", "--check-batches=K", "--json")) {
            assertTrue(scan.out().contains(o), o + " in: " + scan.out());
        }
        MainTest.Result block = ss2d("bench", "block", "--help");
        assertTrue(block.out().contains("--[no-]vss") && block.out().contains("--d-model=C"), block.out());
    }

    @Test
    void badValuesNameTheOptionAndExit2() {
        assertRejected(ss2d("bench", "scan", "--batch", "0"), "ss2d bench scan: --batch: must be >= 1, got 0");
        assertRejected(ss2d("bench", "scan", "--dim", "12", "--groups", "5"), "--groups: must divide --dim=12, got 5");
        assertRejected(ss2d("bench", "scan", "--reps", "0"), "--reps: must be >= 1, got 0");
        assertRejected(ss2d("bench", "scan", "--seqlen", "x"), "--seqlen");
        assertRejected(ss2d("bench", "scan", "--backend", "tpu"), "--backend: unknown backend \"tpu\"");
        assertRejected(ss2d("bench", "block", "--ssm-ratio", "0"), "--ssm-ratio: must be > 0");
        assertRejected(ss2d("bench", "block", "--vss=no"), "--vss");
        assertRejected(ss2d("bench", "block", "--frobnicate"), "--frobnicate");
        assertRejected(ss2d("bench"), "expected a benchmark: scan, block");
        assertRejected(ss2d("bench", "scan-backward", "--rounds", "0"), "--rounds: must be >= 1, got 0");
        assertRejected(ss2d("bench", "scan-backward", "--warmup-seconds", "-1"), "--warmup-seconds: must be in [0, 600], got -1.0");
        assertRejected(ss2d("bench", "scan-backward", "--dim", "12", "--groups", "5"), "--groups: must divide --dim=12, got 5");
        assertRejected(ss2d("bench", "dwconv", "--backend", "cpu"), "--backend: expected a device backend");
        assertRejected(ss2d("bench", "dwconv", "--shape", "32x96x56"), "--shape: expected BxCxHxW");
        assertRejected(ss2d("bench", "dwconv", "--shape", "32x0x56x56"), "--shape: must be >= 1, got 0");
        assertRejected(ss2d("bench", "dwconv", "--rounds", "0"), "--rounds: must be >= 1, got 0");
    }

    @Test
    void aSmallScanBackwardReportsCheckedNumbersAsJson() throws Exception {
        MainTest.Result r = ss2d("bench", "scan-backward", "--backend", "cpu", "--batch", "1", "--dim", "8", "--groups",
                "2", "--seqlen", "33", "--dstate", "2", "--threads", "1", "--rounds", "3", "--warmup-seconds", "0", "--json");
        assertEquals(0, r.status(), r.out() + r.err());
        JsonNode j = new ObjectMapper().readTree(r.out().lines().toList().getLast());
        assertEquals("scan_backward", j.get("op").asText());
        assertEquals("cpu", j.get("backend").asText());
        assertEquals("wall", j.get("timing").asText());
        assertTrue(j.get("backward_ms").asDouble() > 0 && j.get("forward_ms").asDouble() > 0, j.toString());
        assertTrue(j.get("check_rel_err").asDouble() <= 2e-4, j.toString());
    }

    @Test
    void demoOptionErrorsNameTheOptionToo() {
        assertRejected(ss2d("demo", "--batch", "0"), "--batch: must be >= 1, got 0");
        assertRejected(ss2d("demo", "--warmup-seconds", "-1"), "--warmup-seconds: must be in [0, 600], got -1.0");
    }

    @Test
    void aSmallScanReportsCheckedNumbersAsJson() throws Exception {
        MainTest.Result r = ss2d("bench", "scan", "--backend", "cpu", "--batch", "1", "--dim", "16", "--groups", "2",
                "--seqlen", "40", "--dstate", "3", "--threads", "1", "--warmup", "1", "--reps", "3", "--json");
        assertEquals(0, r.status(), r.out() + r.err());
        List<String> lines = r.out().lines().toList();
        JsonNode j = new ObjectMapper().readTree(lines.getLast());
        assertEquals("scan", j.get("op").asText());
        assertEquals("cpu", j.get("backend").asText());
        assertEquals(40, j.get("seqlen").asInt());
        assertEquals(1, j.get("threads").asInt());
        assertEquals(3, j.get("reps").asInt());
        assertTrue(j.get("median_ms").asDouble() > 0 && j.get("ns_per_elem").asDouble() > 0, j.toString());
        assertTrue(j.get("check_rel_err").asDouble() <= 1e-4, j.toString());
        assertTrue(j.get("pct_of_copy").isNull(), "no device copy on the host: " + j);
    }

    @Test
    void theVssFlagTimesTheVssBlock() throws Exception {
        MainTest.Result r = ss2d("bench", "block", "--backend", "cpu", "--batch", "1", "--d-model", "8", "--height", "4",
                "--width", "5", "--threads", "1", "--warmup", "1", "--reps", "2", "--vss", "--json");
        assertEquals(0, r.status(), r.out() + r.err());
        JsonNode j = new ObjectMapper().readTree(r.out().lines().toList().getLast());
        assertEquals("vss", j.get("op").asText());
        assertEquals(8, j.get("d_model").asInt());
        assertTrue(j.get("check_rel_err").asDouble() <= 1e-4, j.toString());
        MainTest.Result plain = ss2d("bench", "block", "--backend", "cpu", "--batch", "1", "--d-model", "8", "--height", "4",
                "--width", "5", "--threads", "1", "--warmup", "1", "--reps", "2", "--no-vss", "--json");
        assertEquals(0, plain.status(), plain.out() + plain.err());
        assertEquals("ss2d", new ObjectMapper().readTree(plain.out().lines().toList().getLast()).get("op").asText());
    }
}
