package org.ss2d.interop.cases;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.util.List;
import org.apache.arrow.flatbuf.Block;
import org.apache.arrow.flatbuf.Footer;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.vector.BufferLayout;
import org.apache.arrow.vector.TypeLayout;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * Checks an Arrow IPC file's own bookkeeping against the file before Arrow's reader trusts it: the
 * footer and the record batch's metadata are read here with Arrow's flatbuffer classes, and every
 * length, count and offset they declare must fit in the bytes that are really there. Arrow allocates
 * what the metadata says (a body of 2^40 bytes, an all-valid bitmap for 2^31 values per column), so
 * a few hundred lying bytes could otherwise take the JVM's memory or minutes of reading.
 *
 * <p>The rules are those of the IPC format: one block's message and body lie between the leading magic
 * and the footer; each buffer lies in its body; a node of a fixed-width type has the bytes its length
 * needs; a FixedSizeList's child holds {@code length * listSize} values; a column has the batch's
 * rows. What Arrow still allocates for bitmaps that a writer left out is bounded by the file's size.
 * Faults are {@link Ss2dArgumentException}s naming {@code file} or the column.
 */
final class IpcPreflight {
    private static final int MAGIC_LENGTH = 6;
    private static final int CONTINUATION = 0xFFFFFFFF;
    /** Deeper nesting than any tensor or note column needs; bounds the recursion of schema conversion. */
    private static final int MAX_DEPTH = 32;
    /** Columns (children included) a file may declare: each costs the reader objects, whatever its data. */
    private static final int MAX_FIELDS = 1 << 16;
    /** Slack for the bitmaps Arrow allocates beyond the file's own bytes. */
    private static final long ALLOCATION_SLACK = 1L << 20;
    /** Footer and batch metadata larger than this are not written by any tool for a one-batch file. */
    private static final long MAX_METADATA = 64L << 20;

    private final Path path;
    private final SeekableByteChannel ch;
    private final long size;
    private long bodyLength;
    private long implied;
    private int fields;
    private List<org.apache.arrow.flatbuf.FieldNode> nodes;

    private IpcPreflight(Path path, SeekableByteChannel ch, long size) {
        this.path = path;
        this.ch = ch;
        this.size = size;
    }

    /** Throws unless the footer, the one record batch's block and its metadata fit the file. */
    static void check(Path path, SeekableByteChannel ch) throws IOException {
        new IpcPreflight(path, ch, ch.size()).run();
        ch.position(0);
    }

    private void run() throws IOException {
        long footerLengthAt = size - MAGIC_LENGTH - Integer.BYTES;
        long footerLength = Integer.toUnsignedLong(read(footerLengthAt, Integer.BYTES).getInt(0));
        long firstMessage = 8; // "ARROW1" and two bytes of padding
        long maxFooter = Math.min(footerLengthAt - firstMessage, MAX_METADATA);
        if (footerLength < 1 || footerLength > maxFooter) {
            throw damaged("a footer length between 1 and " + maxFooter + " bytes", footerLength + " bytes");
        }
        long footerAt = footerLengthAt - footerLength;
        Footer footer;
        Schema schema;
        Block block;
        try {
            footer = Footer.getRootAsFooter(read(footerAt, (int) footerLength));
            org.apache.arrow.flatbuf.Schema fb = footer.schema();
            if (fb == null) throw damaged("a footer with a schema", "none");
            for (int i = 0; i < fb.fieldsLength(); i++) depth(fb.fields(i), 1);
            if (footer.dictionariesLength() != 0) {
                throw new Ss2dArgumentException("file", "tensor and plain columns (no dictionary encoding)",
                        footer.dictionariesLength() + " dictionary batch(es) in " + path, null);
            }
            int batches = footer.recordBatchesLength();
            if (batches != 1) {
                throw new Ss2dArgumentException("file", "an Arrow IPC file with one record batch",
                        batches + " record batches in " + path, null);
            }
            block = footer.recordBatches(0);
            schema = Schema.convertSchema(fb);
        } catch (Ss2dArgumentException e) {
            throw e;
        } catch (RuntimeException e) {
            // Flatbuffer accessors read where the bytes point: pointing outside the footer is damage.
            throw damaged("a footer that Arrow can read", "an unreadable footer of " + footerLength + " bytes ("
                    + Messages.inWords(e) + ")");
        }
        long offset = block.offset();
        long metaLength = block.metaDataLength();
        bodyLength = block.bodyLength();
        if (offset < firstMessage || metaLength < 8 || metaLength > MAX_METADATA || bodyLength < 0 || offset > footerAt
                || metaLength > footerAt - offset || bodyLength > footerAt - offset - metaLength) {
            throw damaged("a record batch between byte " + firstMessage + " and the footer at byte " + footerAt,
                    "a block at byte " + offset + " with " + metaLength + " bytes of metadata and a body of "
                            + bodyLength + " bytes");
        }
        RecordBatch batch = recordBatch(offset, (int) metaLength);
        checkBatch(batch, schema);
    }

    private void depth(org.apache.arrow.flatbuf.Field f, int level) {
        if (++fields > MAX_FIELDS) {
            throw new Ss2dArgumentException("file", "at most " + MAX_FIELDS + " columns (children included)",
                    "more in " + path, null);
        }
        if (level > MAX_DEPTH) {
            throw new Ss2dArgumentException("file", "columns nested at most " + MAX_DEPTH + " levels deep",
                    "deeper nesting in " + path, null);
        }
        for (int i = 0; i < f.childrenLength(); i++) depth(f.children(i), level + 1);
    }

    private RecordBatch recordBatch(long offset, int metaLength) throws IOException {
        ByteBuffer meta = read(offset, metaLength);
        int prefix = meta.getInt(0) == CONTINUATION ? 8 : 4;
        long declared = Integer.toUnsignedLong(meta.getInt(prefix - 4));
        if (declared > metaLength - prefix) {
            throw damaged("record batch metadata within its block's " + metaLength + " bytes", declared + " bytes");
        }
        try {
            Message m = Message.getRootAsMessage(meta.position(prefix).slice().order(ByteOrder.LITTLE_ENDIAN));
            if (m.headerType() != MessageHeader.RecordBatch) {
                throw damaged("a record batch message at byte " + offset, "message type " + m.headerType());
            }
            RecordBatch rb = (RecordBatch) m.header(new RecordBatch());
            if (rb == null) throw damaged("a record batch message at byte " + offset, "no header");
            if (rb.compression() != null) {
                throw new Ss2dArgumentException("file", "an uncompressed Arrow IPC file",
                        "compressed buffers in " + path + " (write it without compression)", null);
            }
            nodes = new java.util.ArrayList<>();
            for (int i = 0; i < rb.nodesLength(); i++) nodes.add(rb.nodes(i));
            return rb;
        } catch (Ss2dArgumentException e) {
            throw e;
        } catch (RuntimeException e) {
            throw damaged("record batch metadata that Arrow can read", "unreadable metadata of " + metaLength
                    + " bytes (" + Messages.inWords(e) + ")");
        }
    }

    /** Walks the schema's columns in the order Arrow loads them: one node each, then their buffers. */
    private void checkBatch(RecordBatch rb, Schema schema) {
        long rows = rb.length();
        if (rows < 0 || rows > Integer.MAX_VALUE) {
            throw damaged("a row count between 0 and " + Integer.MAX_VALUE, Long.toString(rows));
        }
        Cursor c = new Cursor(rb);
        for (Field f : schema.getFields()) {
            long len = visit(f, f.getName(), c, -1);
            if (len != rows) {
                throw new Ss2dArgumentException(f.getName(), "as many rows as the record batch (" + rows + ")",
                        len + " rows", null);
            }
        }
        if (c.node != nodes.size() || c.buffer != rb.buffersLength()) {
            throw damaged("exactly the nodes and buffers that the schema's columns need (" + c.node + " and "
                    + c.buffer + ")", nodes.size() + " nodes and " + rb.buffersLength() + " buffers");
        }
        if (implied > size + ALLOCATION_SLACK) {
            throw damaged("value counts that the file's bytes can hold", "counts that would make the reader "
                    + "allocate " + implied + " bytes of bitmaps for a file of " + size + " bytes");
        }
    }

    /** Position in the batch's node and buffer lists. */
    private static final class Cursor {
        final RecordBatch rb;
        int node;
        int buffer;
        int variadic;

        Cursor(RecordBatch rb) {
            this.rb = rb;
        }
    }

    /** Checks one field (and its children); returns its node's length. {@code atLeast} is what its parent needs, or -1. */
    private long visit(Field f, String column, Cursor c, long atLeast) {
        if (c.node >= nodes.size()) {
            throw damaged("a field node for every column", "too few nodes for column " + column);
        }
        var node = nodes.get(c.node++);
        long len = node.length();
        long nulls = node.nullCount();
        if (len < 0 || len > Integer.MAX_VALUE || nulls < 0 || nulls > len) {
            throw new Ss2dArgumentException(column, "a value count between 0 and " + Integer.MAX_VALUE
                    + " with at most that many nulls", len + " values, " + nulls + " nulls", null);
        }
        if (atLeast >= 0 && len < atLeast) {
            throw new Ss2dArgumentException(column, "at least " + atLeast + " values (length x list size of its parent)",
                    len + " values", null);
        }
        ArrowType type = f.getType() instanceof ArrowType.ExtensionType e ? e.storageType() : f.getType();
        if (type instanceof ArrowType.Utf8View || type instanceof ArrowType.BinaryView
                || type instanceof ArrowType.ListView || type instanceof ArrowType.LargeListView) {
            throw new Ss2dArgumentException(column, "a column type this reader knows", type + " (a view type)", null);
        }
        TypeLayout layout = TypeLayout.getTypeLayout(type);
        boolean variableWidth = layout.getBufferTypes().contains(BufferLayout.BufferType.OFFSET);
        for (BufferLayout b : layout.getBufferLayouts()) {
            long bytes = buffer(c, column);
            int width = b.getTypeBitWidth();
            switch (b.getType()) {
                case VALIDITY -> {
                    long needed = (len + 7) / 8;
                    if (nulls > 0 && bytes < needed) throw tooShort(column, "validity bitmap", needed, bytes);
                    if (bytes < needed && !(type instanceof ArrowType.Null)) implied += needed; // Arrow allocates it
                }
                case OFFSET -> {
                    long entries = type instanceof ArrowType.Union ? len : len + 1; // a dense union's offsets: one per value
                    long needed = len == 0 ? 0 : entries * (width / 8);
                    if (bytes < needed) throw tooShort(column, "offsets", needed, bytes);
                }
                case DATA, TYPE -> {
                    if (!variableWidth) {
                        long needed = (len * width + 7) / 8; // len < 2^31 and width <= 256: no overflow
                        if (bytes < needed) throw tooShort(column, "values", needed, bytes);
                    }
                }
                default -> { } // SIZE, VIEWS, VARIADIC: view types are rejected above
            }
        }
        List<Field> children = f.getChildren();
        for (Field child : children) {
            long need = -1;
            if (type instanceof ArrowType.FixedSizeList l) {
                try {
                    need = Math.multiplyExact(len, (long) l.getListSize());
                } catch (ArithmeticException e) {
                    need = Long.MAX_VALUE;
                }
            } else if (type instanceof ArrowType.Struct) {
                need = len;
            }
            visit(child, column, c, need);
        }
        return len;
    }

    private long buffer(Cursor c, String column) {
        if (c.buffer >= c.rb.buffersLength()) {
            throw damaged("a buffer for every column", "too few buffers for column " + column);
        }
        org.apache.arrow.flatbuf.Buffer b = c.rb.buffers(c.buffer++);
        long off = b.offset();
        long len = b.length();
        if (off < 0 || len < 0 || off > bodyLength || len > bodyLength - off) {
            throw new Ss2dArgumentException(column, "buffers inside the record batch's body of " + bodyLength + " bytes",
                    "a buffer of " + len + " bytes at offset " + off, null);
        }
        return len;
    }

    private static Ss2dArgumentException tooShort(String column, String what, long needed, long bytes) {
        return new Ss2dArgumentException(column, what + " of at least " + needed + " bytes for its declared length",
                bytes + " bytes", null);
    }

    private ByteBuffer read(long at, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        ch.position(at);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) throw damaged(length + " bytes at byte " + at, "the end of the file");
        }
        return b.flip();
    }

    private Ss2dArgumentException damaged(String expected, String found) {
        return new Ss2dArgumentException("file", expected, found + " in " + path + " (a damaged Arrow IPC file)", null);
    }
}
