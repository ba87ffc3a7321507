package org.ss2d.conformance.adversarial;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * What a generated case file holds before it is written: the schema metadata ({@code ss2d.kind},
 * {@code ss2d.options}, anything else) and the columns in order. Mutations make a copy.
 */
record CaseSpec(Map<String, String> metadata, List<Col> columns) {
    static CaseSpec of(String kind, String options, List<Col> columns) {
        Map<String, String> m = new LinkedHashMap<>();
        if (kind != null) m.put("ss2d.kind", kind);
        if (options != null) m.put("ss2d.options", options);
        return new CaseSpec(m, List.copyOf(columns));
    }

    String kind() {
        return metadata.get("ss2d.kind");
    }

    CaseSpec withMetadata(String key, String value) {
        Map<String, String> m = new LinkedHashMap<>(metadata);
        if (value == null) m.remove(key); else m.put(key, value);
        return new CaseSpec(m, columns);
    }

    CaseSpec withOptions(String json) {
        return withMetadata("ss2d.options", json);
    }

    /** A copy with {@code name} changed by {@code f} (the column must exist). */
    CaseSpec mapColumn(String name, UnaryOperator<Col> f) {
        List<Col> out = new ArrayList<>();
        boolean found = false;
        for (Col c : columns) {
            if (c.name().equals(name)) {
                out.add(f.apply(c));
                found = true;
            } else {
                out.add(c);
            }
        }
        if (!found) throw new IllegalArgumentException("no column " + name + " in " + names());
        return new CaseSpec(metadata, out);
    }

    CaseSpec mapColumns(UnaryOperator<Col> f) {
        return new CaseSpec(metadata, columns.stream().map(f).toList());
    }

    CaseSpec without(String name) {
        return new CaseSpec(metadata, columns.stream().filter(c -> !c.name().equals(name)).toList());
    }

    CaseSpec plus(Col c) {
        List<Col> out = new ArrayList<>(columns);
        out.add(c);
        return new CaseSpec(metadata, out);
    }

    Col column(String name) {
        return columns.stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow();
    }

    List<String> names() {
        return columns.stream().map(Col::name).toList();
    }
}
