package org.ss2d.cli.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.interop.safetensors.SafeTensorsFile;
import org.ss2d.model.ConfigInference;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;

/**
 * A module the client loaded: an SS2D block, a VSS block or a whole VMamba model, its weights either views of
 * the client's shared memory (a state dict: no copy, the client keeps the arrays alive) or a safetensors
 * file this engine maps itself. Configurations are inferred from the shapes, as for case files.
 */
final class Loaded implements AutoCloseable {
    private final String kind;
    private final TensorScope scope;
    private final SafeTensorsFile file;
    private final List<Tensor> tensors;
    private SS2DWeights ss2d;
    private VSSWeights vss;
    private VMambaModel model;
    private final ObjectNode info = Connection.JSON.createObjectNode();

    private Loaded(String kind, TensorScope scope, SafeTensorsFile file, List<Tensor> tensors) {
        this.kind = kind;
        this.scope = scope;
        this.file = file;
        this.tensors = tensors;
    }

    static Loaded load(Ops ops, Session s, JsonNode req) {
        String kind = req.path("kind").asText("");
        if (!List.of("ss2d", "vss_block", "vmamba").contains(kind)) {
            throw new Ss2dArgumentException("kind", "one of ss2d, vss_block, vmamba", "\"" + kind + "\"", null);
        }
        String prefix = req.path("prefix").asText("");
        TensorScope scope = s.scope().child("module " + kind);
        SafeTensorsFile file = null;
        try {
            Map<String, Tensor> dict = new LinkedHashMap<>();
            Function<String, long[]> shapes;
            if (req.has("safetensors")) {
                file = SafeTensorsFile.open(Path.of(req.path("safetensors").asText()), scope);
                for (String k : file.keys()) {
                    if (k.startsWith(prefix)) dict.put(k, file.load(k)); // float32: views of the mapped file
                }
            } else {
                JsonNode refs = req.path("tensors");
                for (Iterator<String> it = refs.fieldNames(); it.hasNext(); ) {
                    String k = it.next();
                    dict.put(k, ops.view(s, scope, Ref.of(refs.get(k), k), k));
                }
            }
            shapes = k -> dict.containsKey(k) ? dict.get(k).shape() : null;
            Loaded l = new Loaded(kind, scope, file, new ArrayList<>(dict.values()));
            switch (kind) {
                case "ss2d" -> {
                    SS2DConfig c = ConfigInference.ss2d(shapes, prefix);
                    l.ss2d = SS2DWeights.fromStateDict(c, dict, prefix);
                    l.describe(c);
                }
                case "vss_block" -> {
                    SS2DConfig c = ConfigInference.ss2d(shapes, prefix + VSSWeights.OP);
                    double mlp = ConfigInference.mlpRatio(shapes, prefix, c.dModel());
                    l.vss = VSSWeights.fromStateDict(c, mlp, dict, prefix);
                    l.describe(c);
                    l.info.put("mlp_ratio", mlp);
                }
                default -> {
                    Map<String, Tensor> unprefixed = new LinkedHashMap<>();
                    dict.forEach((k, v) -> unprefixed.put(k.substring(prefix.length()), v));
                    l.model = ops.facade(req.path("backend").isTextual() ? req.path("backend").asText() : null).vmamba(VMambaWeights.fromStateDict(unprefixed));
                    VMambaConfig c = l.model.config();
                    l.info.put("name", c.name());
                    l.info.put("num_classes", c.hasClassifier() ? c.numClasses() : 0);
                    ArrayNode dims = l.info.putArray("dims");
                    for (int d : c.dims()) dims.add(d);
                    l.info.put("backend", l.model.backend().name());
                }
            }
            return l;
        } catch (RuntimeException e) {
            if (file != null) file.close();
            scope.release();
            throw e;
        }
    }

    private void describe(SS2DConfig c) {
        info.put("d_model", c.dModel());
        info.put("d_state", c.dState());
        info.put("d_inner", c.dInner());
        info.put("dt_rank", c.dtRank());
        info.put("d_conv", c.dConv());
        info.put("ssm_ratio", c.ssmRatio());
    }

    ObjectNode info() {
        return info;
    }

    /** Runs the module on {@code x} into the client's outputs; returns the backend's name. */
    String run(Ops ops, Request req, Tensor x, List<Tensor> outs) {
        switch (kind) {
            case "ss2d", "vss_block" -> {
                one(outs);
                Ss2d ss = ops.facade(req.backend);
                if (ss2d != null) ss.ss2dInto(ss2d, x, outs.get(0)); else ss.vssBlockInto(vss, x, outs.get(0));
                return ss.lastBackend().name();
            }
            default -> {
                if (req.features) model.featuresInto(x, outs);
                else model.logitsInto(x, one(outs));
                return model.backend().name();
            }
        }
    }

    private static Tensor one(List<Tensor> outs) {
        if (outs.size() != 1) throw new Ss2dArgumentException("outputs", "one output \"out\"", outs.size() + " outputs", null);
        return outs.get(0);
    }

    /** Output shapes of {@code what} ({@code logits} or {@code features}) for an input of {@code xShape}. */
    List<long[]> plan(String what, long[] xShape) {
        if (model == null) return List.of(xShape.clone());
        if (xShape.length != 4) throw new Ss2dArgumentException("x", "(batch, 3, H, W)", xShape.length + " dimensions", null);
        VMambaConfig c = model.config();
        if (!what.equals("features")) return List.of(new long[] {xShape[0], c.numClasses()});
        int[][] g = c.grids(xShape[2], xShape[3]);
        List<long[]> out = new ArrayList<>();
        for (int i = 0; i < VMambaConfig.STAGES; i++) out.add(new long[] {xShape[0], c.dim(i), g[i][0], g[i][1]});
        return out;
    }

    /** The client changed weights in place: copies kept elsewhere (a device upload) must be refreshed. */
    void touch() {
        for (Tensor t : tensors) t.markModified();
    }

    @Override
    public void close() {
        if (model != null) model.close();
        if (file != null) file.close();
        scope.release();
    }
}
