package org.ss2d.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** A left-aligned text table; the last column is not padded, so long reasons do not widen the rest. */
final class Table {
    private final List<String[]> rows = new ArrayList<>();

    Table(String... header) {
        rows.add(header);
    }

    Table row(Object... cells) {
        String[] r = new String[cells.length];
        for (int i = 0; i < cells.length; i++) r[i] = String.valueOf(cells[i]);
        rows.add(r);
        return this;
    }

    void print(PrintWriter out) {
        int cols = rows.getFirst().length;
        int[] w = new int[cols];
        for (String[] r : rows) {
            for (int i = 0; i < cols - 1; i++) w[i] = Math.max(w[i], r[i].length());
        }
        for (String[] r : rows) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < cols; i++) {
                sb.append(r[i]);
                if (i < cols - 1) sb.append(" ".repeat(w[i] - r[i].length() + 2));
            }
            out.println(sb.toString().stripTrailing());
        }
    }
}
