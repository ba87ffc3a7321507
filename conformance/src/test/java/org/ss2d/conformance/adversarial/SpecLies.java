package org.ss2d.conformance.adversarial;

import static org.ss2d.conformance.adversarial.Categories.rejected;
import static org.ss2d.conformance.adversarial.Corpus.Expect.COMPUTES;

import java.util.List;
import java.util.SplittableRandom;
import org.ss2d.conformance.adversarial.Corpus.Made;

/** Files that Arrow writes happily but the contract rejects (or, for extras, says to ignore). */
final class SpecLies {
    private SpecLies() {}

    /** Columns, metadata and options that the contract says to ignore: the case still computes. */
    static Made ignoredExtras(SplittableRandom r, int i) {
        CaseSpec s = Categories.anyValid(r);
        String first = s.columns().getFirst().name();
        CaseSpec t = switch (i % 8) {
            case 0 -> s.plus(new Col("notes", new long[] {1}, 1, new double[1], Col.Encoding.NOTE, Col.Dtype.F32,
                    java.util.Map.of(), false));
            case 1 -> s.plus(new Col("step", new long[] {1}, 1, new double[1], Col.Encoding.INT_SCALAR, Col.Dtype.I32,
                    java.util.Map.of(), false));
            case 2 -> s.plus(Col.tensor("half_note", new long[] {2, 3}, ValidCases.gauss(r, 6, 1.0)).with(Col.Dtype.F16));
            case 3 -> s.plus(Col.tensor("grad.hint", new long[] {3}, ValidCases.gauss(r, 3, 1.0)).with(Col.Encoding.PLAIN));
            case 4 -> s.withMetadata("ss2d.note", "written by a test").withMetadata("producer", "adversarial");
            case 5 -> s.mapColumn(first, c -> c.withMetadata("comment", "an unknown field key"));
            case 6 -> s.withOptions(addKey(s.metadata().get("ss2d.options"), "\"unknown_option\": [1, 2, {\"x\": null}]"));
            default -> s.kind().equals("cross_merge") ? s.withMetadata("author", "x") : s.withOptions(r.nextBoolean() ? "" : "   ");
        };
        return new Made("extras " + (i % 8) + " on " + s.kind(), COMPUTES, IpcForge.write(t));
    }

    /** Shapes that lie, overflow, wrap, disagree or do not fit the op. */
    static Made lyingShapes(SplittableRandom r, int i) {
        CaseSpec s = Categories.anyValid(r);
        List<String> in = Categories.inputs(s);
        String col = in.get(r.nextInt(in.size()));
        Col c = s.column(col);
        int n = c.listSize();
        return switch (i % 11) {
            case 0 -> rejected("shape product over 2^63 on " + col, s.mapColumn(col, x -> plain(x, "[4611686018427387904, 4, " + n + "]")));
            case 1 -> rejected("a dim of 2^64+" + n + " (wraps to " + n + ") on " + col,
                    s.mapColumn(col, x -> plain(x, "[" + new java.math.BigInteger("18446744073709551616").add(
                            java.math.BigInteger.valueOf(n)) + "]")));
            case 2 -> rejected("negative dims on " + col, s.mapColumn(col, x -> plain(x, "[-1, -" + n + "]")));
            case 3 -> rejected("a float dim on " + col, s.mapColumn(col, x -> plain(x, "[" + n + ".0]")));
            case 4 -> rejected("shape metadata that is no list on " + col, s.mapColumn(col, x -> plain(x,
                    List.of("{\"shape\": [" + n + "]}", "" + n, "[" + n, "[" + n + "] trailing", "", "null", "[\"" + n + "\"]")
                            .get(r.nextInt(7)))));
            case 5 -> rejected("extension and field metadata shapes disagree on " + col,
                    s.mapColumn(col, x -> x.with(Col.Encoding.EXTENSION).withMetadata("shape", "[" + n + ", 1, 1, 1, 1]")));
            case 6 -> rejected("a non-identity permutation on " + col, s.mapColumn(col, x -> rawExtension(x,
                    "{\"shape\": " + IpcForge.shapeJson(x.shape()) + ", \"permutation\": " + reversed(x.shape().length) + "}")));
            case 7 -> rejected("extension metadata that is not the contract's JSON on " + col, s.mapColumn(col, x -> rawExtension(x,
                    List.of("{\"shape\": [" + n + "], \"shape\": [" + n + "]}", "{\"shape\": " + IpcForge.shapeJson(x.shape())
                            + "} junk", "[1]", "{\"shape\": \"" + n + "\"}").get(r.nextInt(4)))));
            case 8 -> rejected("a shape of another element count on " + col, s.mapColumn(col, x -> plain(x, "[" + (n + 1) + "]")));
            case 9 -> rejected("a zero-size dim on " + col, s.mapColumn(col, x -> plain(x, "[0, " + n + "]")));
            default -> rejected("a consistent shape of the wrong rank for the op on " + col,
                    s.mapColumn(col, x -> x.withShape(new long[] {1, 1, 1, 1, n})));
        };
    }

    /** Value types the op does not take, null rows, missing or non-tensor inputs. */
    static Made wrongTypes(SplittableRandom r, int i) {
        CaseSpec s = Categories.anyValid(r);
        List<String> in = Categories.inputs(s);
        String col = in.get(r.nextInt(in.size()));
        // A block's parameters may be stored in any float dtype (widened on load, one half dtype per file): one half
        // parameter computes; a half x without the dtype option, or a half column of another kind, is refused.
        boolean widened = (s.kind().equals("ss2d") || s.kind().equals("vss_block")) && !col.equals("x");
        return switch (i % 8) {
            case 0 -> halfIn(widened, "float16 values in " + col, s.mapColumn(col, x -> x.with(Col.Dtype.F16)));
            case 1 -> halfIn(widened, "bfloat16 values in " + col, s.mapColumn(col, x -> x.with(Col.Dtype.BF16)
                    .withMetadata("logical_dtype", "bfloat16")));
            case 2 -> rejected("int32 values in " + col, s.mapColumn(col, x -> x.with(Col.Dtype.I32)));
            case 3 -> rejected("a utf8 column as " + col, s.mapColumn(col, x -> x.with(Col.Encoding.NOTE)));
            case 4 -> rejected("a null first row in " + col, s.mapColumn(col, Col::withNullRow));
            case 5 -> {
                List<String> req = Categories.required(s);
                String gone = req.get(r.nextInt(req.size()));
                yield rejected("no column " + gone, s.without(gone));
            }
            case 6 -> rejected("complex values in " + col, s.mapColumn(col, x -> x.withMetadata("logical_dtype", "complex128")));
            default -> rejected("an int32 scalar column as " + col, s.mapColumn(col, x -> x.with(Col.Encoding.INT_SCALAR)));
        };
    }

    private static Made halfIn(boolean widened, String why, CaseSpec s) {
        return widened ? new Made(why + " (a block parameter: widened)", COMPUTES, IpcForge.write(s)) : rejected(why, s);
    }

    /** Options and kinds that a strict reader must refuse, by name. */
    static Made badOptions(SplittableRandom r, int i) {
        String kind = ValidCases.KINDS.get(i % ValidCases.KINDS.size());
        CaseSpec s = ValidCases.of(kind, r);
        String opts = s.metadata().get("ss2d.options");
        int v = (i / ValidCases.KINDS.size()) % 9;
        CaseSpec t = switch (v) {
            case 0 -> s.withOptions((opts == null ? "{}" : opts) + " {\"extra\": 1}");
            case 1 -> s.withOptions(opts == null || opts.equals("{}") ? "{\"H\": 1, \"H\": 2}" : addKey(opts, dup(opts)));
            case 2 -> s.withOptions("[1, 2]");
            case 3 -> s.withOptions("{delta_softplus: true}");
            case 4 -> s.withMetadata("ss2d.kind", List.of(kind.toUpperCase(java.util.Locale.ROOT), " " + kind, kind + "\n",
                    kind.contains("_") ? kind.replace('_', '-') : kind + "s", "", "mamba2").get(r.nextInt(6)));
            case 5 -> s.withMetadata("ss2d.kind", null);
            default -> mistyped(s, kind, r);
        };
        return rejected("bad options/kind " + v + " on " + kind + ": " + t.metadata(), t);
    }

    /** A known option of the kind with a value of the wrong type, or one that disagrees with the shapes. */
    private static CaseSpec mistyped(CaseSpec s, String kind, SplittableRandom r) {
        String opts = s.metadata().get("ss2d.options");
        return switch (kind) {
            case "selective_scan" -> s.withOptions(List.of("{\"delta_softplus\": \"true\"}", "{\"return_last_state\": 1}",
                    "{\"delta_softplus\": NaN}", "{\"return_last_state\": \"yes\"}").get(r.nextInt(4)));
            case "cross_merge" -> {
                String h = opts.replaceAll(".*\"H\": (\\d+).*", "$1");
                yield s.withOptions(List.of("{\"H\": " + h + ".5, \"W\": 1}", "{\"H\": \"" + h + "\", \"W\": 1}",
                        "{\"H\": 1e300, \"W\": 1}", "{\"W\": 1}", "{\"H\": " + h + "}", "{\"H\": 99999999999999999999, \"W\": 1}")
                        .get(r.nextInt(6)));
            }
            case "cross_scan" -> s.withOptions(List.of("{\"a\": 1} x", "{\"a\": 1, \"a\": 2}", "\"text\"").get(r.nextInt(3)));
            default -> s.withOptions(List.of("{\"d_state\": 99}", "{\"d_state\": 2.5}", "{\"ssm_ratio\": 7.0}",
                    "{\"dt_rank\": \"big\"}", "{\"conv_bias\": \"false\"}", "{\"d_conv\": 2}").get(r.nextInt(6)));
        };
    }

    private static Col plain(Col c, String shapeText) {
        return c.with(Col.Encoding.PLAIN).withMetadata("shape", shapeText);
    }

    private static Col rawExtension(Col c, String json) {
        return c.with(Col.Encoding.RAW_EXTENSION).withMetadata("ARROW:extension:name", "arrow.fixed_shape_tensor")
                .withMetadata("ARROW:extension:metadata", json);
    }

    private static String reversed(int rank) {
        StringBuilder sb = new StringBuilder("[");
        int n = Math.max(rank, 2); // [0] would be the identity; a rank-1 tensor gets [1, 0], also refused
        for (int k = n - 1; k >= 0; k--) sb.append(k == n - 1 ? "" : ", ").append(k);
        return sb.append(']').toString();
    }

    /** {@code {"a": 1}} plus {@code "k": v}. */
    private static String addKey(String json, String entry) {
        String o = json == null || json.isBlank() ? "{}" : json.strip();
        return o.equals("{}") ? "{" + entry + "}" : o.substring(0, o.length() - 1) + ", " + entry + "}";
    }

    /** The first key of {@code json} again, with another value. */
    private static String dup(String json) {
        String key = json.replaceAll("^\\{\\s*\"([^\"]+)\".*$", "$1");
        return "\"" + key + "\": 0";
    }
}
