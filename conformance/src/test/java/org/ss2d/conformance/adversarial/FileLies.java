package org.ss2d.conformance.adversarial;

import static org.ss2d.conformance.adversarial.Corpus.Expect.REJECTED;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.ss2d.conformance.adversarial.Corpus.Made;

/** Files whose IPC structure is damaged or lies: truncations, bit flips, lying lengths and counts. */
final class FileLies {
    private FileLies() {}

    static final long BIG = Integer.MAX_VALUE;

    /** Cut anywhere before the end; half of them get the last 10 bytes (footer length and magic) back. */
    static Made truncated(SplittableRandom r, int i) {
        byte[] f = IpcForge.write(Categories.anyValid(r));
        int cut = r.nextInt(0, f.length);
        if (i % 2 == 0) return new Made("cut to " + cut + " of " + f.length + " bytes", REJECTED, Arrays.copyOf(f, cut));
        byte[] g = Arrays.copyOf(f, Math.max(cut, 0) + 10);
        System.arraycopy(f, f.length - 10, g, g.length - 10, 10);
        return Categories.either("cut to " + cut + " bytes, footer length and magic put back", g);
    }

    /** 1 to 4 bit flips in the file's metadata (schema, footer); the tensors' values are left alone. */
    static Made bitFlips(SplittableRandom r, int i) {
        byte[] f = IpcForge.write(Categories.anyValid(r));
        long[] body = IpcForge.body(f);
        int flips = r.nextInt(1, 5);
        StringBuilder why = new StringBuilder("bits flipped at");
        for (int k = 0; k < flips; k++) {
            int at;
            do {
                at = r.nextInt(f.length);
            } while (at >= body[0] && at < body[1]); // not the batch (its metadata and values)
            int bit = r.nextInt(8);
            f[at] ^= (byte) (1 << bit);
            why.append(' ').append(at).append('.').append(bit);
        }
        return Categories.either(why.toString(), f);
    }

    /** The record batch, its nodes or the footer's block claim what the bytes do not hold. */
    static Made lyingLengths(SplittableRandom r, int i) {
        CaseSpec s = Categories.anyValid(r);
        byte[] f = IpcForge.write(s);
        int nodes = countNodes(s);
        int n = r.nextInt(nodes);
        UnaryOperator<ArrowBlock> same = UnaryOperator.identity();
        return switch (i % 12) {
            case 0 -> lie("record batch of 2^31-1 rows", IpcForge.relie(f, b -> b.withRows((int) BIG), same));
            case 1 -> lie("record batch of more rows than its columns", IpcForge.relie(f, b -> b.withRows(r.nextInt(2, 64)), same));
            case 2 -> lie("node " + n + " claims 2^31-1 values", IpcForge.relie(f, b -> b.withNode(n, BIG, 0), same));
            case 3 -> lie("node " + n + " claims 2^31-1 values, all null", IpcForge.relie(f, b -> b.withNode(n, BIG, BIG), same));
            case 4 -> lie("node " + n + " claims a negative length", IpcForge.relie(f, b -> b.withNode(n, -5, 0), same));
            case 5 -> lie("node " + n + " claims more nulls than values", IpcForge.relie(f, b -> b.withNode(n, 1, 9), same));
            case 6 -> lie("footer block body of 2^40 bytes", IpcForge.relie(f, b -> b,
                    blk -> new ArrowBlock(blk.getOffset(), blk.getMetadataLength(), 1L << 40)));
            case 7 -> lie("footer block beyond the file", IpcForge.relie(f, b -> b,
                    blk -> new ArrowBlock(blk.getOffset() + (1L << 33), blk.getMetadataLength(), blk.getBodyLength())));
            case 8 -> lie("footer block metadata longer than the file", IpcForge.relie(f, b -> b,
                    blk -> new ArrowBlock(blk.getOffset(), Integer.MAX_VALUE - 7, blk.getBodyLength())));
            case 9 -> lie("a FixedSizeList of 2^31-1 values per row on short buffers",
                    IpcForge.relie(f, schema -> hugeLists(schema, r), b -> b, same));
            case 10 -> lie("a buffer missing", IpcForge.relie(f, b -> new IpcForge.Batch(b.rows(), b.nodes(),
                    b.buffers().subList(0, b.buffers().size() - 1)), same));
            default -> manyColumns(r);
        };
    }

    /** 96 tensor columns whose child nodes each claim 2^31-1 values (gigabytes of bitmaps if believed). */
    static Made manyColumns(SplittableRandom r) {
        List<Col> cols = new ArrayList<>();
        for (int c = 0; c < 96; c++) cols.add(Col.tensor("t" + c, new long[] {2, 2}, ValidCases.gauss(r, 4, 1.0)));
        CaseSpec s = CaseSpec.of("cross_scan", "{}", cols).plus(Col.tensor("x", new long[] {1, 1, 2, 2},
                ValidCases.gauss(r, 4, 1.0)));
        byte[] f = IpcForge.write(s);
        return lie("96 columns whose child nodes claim 2^31-1 values", IpcForge.relie(f, b -> {
            IpcForge.Batch out = b;
            for (int c = 0; c < 96; c++) out = out.withNode(2 * c + 1, BIG, 0);
            return out;
        }, UnaryOperator.identity()));
    }

    private static Schema hugeLists(Schema schema, SplittableRandom r) {
        List<Field> fields = new ArrayList<>(schema.getFields());
        int k = r.nextInt(fields.size());
        Field old = fields.get(k);
        ArrowType storage = old.getType() instanceof ArrowType.ExtensionType e ? e.storageType() : old.getType();
        if (storage instanceof ArrowType.FixedSizeList) {
            java.util.Map<String, String> md = new java.util.LinkedHashMap<>(old.getMetadata() == null ? java.util.Map.of()
                    : old.getMetadata());
            md.put("shape", "[" + BIG + "]");
            fields.set(k, new Field(old.getName(), new FieldType(true, new ArrowType.FixedSizeList((int) BIG), null, md),
                    old.getChildren()));
        }
        return new Schema(fields, schema.getCustomMetadata());
    }

    /** Nodes in the batch: one per column and one more per tensor column (its values). */
    static int countNodes(CaseSpec s) {
        int n = 0;
        for (Col c : s.columns()) n += c.encoding() == Col.Encoding.NOTE || c.encoding() == Col.Encoding.INT_SCALAR ? 1 : 2;
        return n;
    }

    private static Made lie(String why, byte[] bytes) {
        return new Made(why, REJECTED, bytes);
    }
}
