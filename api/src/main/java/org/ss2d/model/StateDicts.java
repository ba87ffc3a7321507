package org.ss2d.model;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.ss2d.tensor.Tensor;
import org.ss2d.validate.Ss2dArgumentException;

/** Name checks shared by the weight records. */
final class StateDicts {
    private StateDicts() {}

    static void checkNames(String what, Collection<String> want, Map<String, Tensor> dict, String prefix) {
        List<String> missing = new ArrayList<>();
        for (String n : want) {
            if (dict.get(prefix + n) == null) missing.add(prefix + n);
        }
        if (!missing.isEmpty()) {
            throw new Ss2dArgumentException(missing.getFirst(), what + " parameter present",
                    "missing key(s) " + missing, null);
        }
        TreeSet<String> extra = new TreeSet<>();
        for (String k : dict.keySet()) {
            if (k.startsWith(prefix) && !want.contains(k.substring(prefix.length()))) extra.add(k);
        }
        if (!extra.isEmpty()) {
            throw new Ss2dArgumentException(extra.first(), "only the " + what + " parameters " + want,
                    "unexpected key(s) " + extra, null);
        }
    }
}
