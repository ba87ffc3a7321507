package org.ss2d.cli.serve;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * An op call (selective_scan, cross_scan, cross_merge, run), whatever frame it came in: the op, the backend (null
 * for auto), its options and its tensors by name, outputs in the order the client listed them.
 */
final class Request {
    final String op;
    String backend;
    boolean deltaSoftplus;
    boolean returnLastState;
    boolean features;
    /**
     * CUDA tensors in stream order: the engine's stream waits for the client's ready word to reach {@link #ticket} and
     * the reply comes once the op is queued, with the done word written after it (else the reply waits for the
     * stream). See {@link Ops#call} and {@link OrderFlags}.
     */
    boolean ordered;
    int ticket;
    long handle = -1;
    final Map<String, Ref> inputs = new LinkedHashMap<>();
    final Map<String, Ref> outputs = new LinkedHashMap<>();

    Request(String op) {
        this.op = op;
    }

    /** A JSON request: {@code {op, backend?, options?, handle?, what?, inputs: {name: ref}, outputs: {name: ref}}}. */
    static Request fromJson(String op, JsonNode req) {
        Request q = new Request(op);
        q.backend = req.path("backend").isTextual() ? req.path("backend").asText() : null;
        JsonNode opt = req.path("options");
        q.deltaSoftplus = opt.path("delta_softplus").asBoolean(false);
        q.returnLastState = opt.path("return_last_state").asBoolean(false);
        q.features = req.path("what").asText("logits").equals("features");
        q.handle = req.path("handle").asLong(-1);
        q.ordered = req.path("ordered").asBoolean(false);
        q.ticket = (int) req.path("ticket").asLong(0);
        refs(req.path("inputs"), q.inputs);
        refs(req.path("outputs"), q.outputs);
        return q;
    }

    private static void refs(JsonNode n, Map<String, Ref> into) {
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isNull()) into.put(e.getKey(), Ref.of(e.getValue(), e.getKey()));
        }
    }

    Ref input(String name) {
        Ref r = inputs.get(name);
        if (r == null) throw new Ss2dArgumentException(name, "a tensor", "nothing", null);
        return r;
    }

    Ref output(String name) {
        Ref r = outputs.get(name);
        if (r == null) throw new Ss2dArgumentException(name, "an output in the client's shared memory", "nothing", null);
        return r;
    }
}
