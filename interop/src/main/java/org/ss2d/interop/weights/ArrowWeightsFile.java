package org.ss2d.interop.weights;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;
import org.ss2d.interop.cases.CaseFile;
import org.ss2d.model.SS2DConfig;
import org.ss2d.model.SS2DWeights;
import org.ss2d.model.VSSWeights;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;

/**
 * Weights in an Arrow IPC file as {@code case-files.md} describes: one column per parameter, named by
 * its state-dict key, the tensor in the first row ({@code arrow.fixed_shape_tensor} or a
 * {@code FixedSizeList} with a {@code shape} field metadata). Float32 columns are viewed in place,
 * float64/float16 rounded (by {@link CaseFile}). A case file of kind {@code ss2d} or
 * {@code vss_block} is such a file, with an {@code x} column besides.
 *
 * <p>Following the case-file contract, columns that are no parameter of SS2D or of a VSS block
 * (inputs, expected outputs, notes) are ignored; a parameter that the config does not want
 * ({@code conv2d.bias} without conv bias, say) is still an "unexpected key".
 */
public final class ArrowWeightsFile implements StateDictSource {
    private final CaseFile file;
    private final TensorScope owned;
    private final Set<String> keys;

    private ArrowWeightsFile(CaseFile file, TensorScope owned) {
        this.file = file;
        this.owned = owned;
        this.keys = Collections.unmodifiableSet(new LinkedHashSet<>(file.columns()));
    }

    /** Opens with a root scope of its own. */
    public static ArrowWeightsFile open(Path path) {
        TensorScope s = TensorScope.root("arrow weights " + path.getFileName());
        try {
            return new ArrowWeightsFile(CaseFile.open(s, path), s);
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** Opens with tensors in a child of {@code scope}. */
    public static ArrowWeightsFile open(Path path, TensorScope scope) {
        return new ArrowWeightsFile(CaseFile.open(scope, path), null);
    }

    public SS2DWeights ss2d(SS2DConfig config, String prefix) {
        return Weights.ss2d(this, config, prefix);
    }

    public VSSWeights vss(SS2DConfig config, double mlpRatio, String prefix) {
        return Weights.vss(this, config, mlpRatio, prefix);
    }

    /** The underlying case file (metadata, options). */
    public CaseFile caseFile() {
        return file;
    }

    @Override
    public Set<String> keys() {
        return keys;
    }

    @Override
    public String dtypeOf(String key) {
        return keys.contains(key) ? "arrow" : null;
    }

    @Override
    public long[] shapeOf(String key) {
        return keys.contains(key) ? file.shape(key) : null;
    }

    @Override
    public boolean isFloat(String key) {
        return keys.contains(key);
    }

    @Override
    public Tensor load(String key) {
        return file.tensor(key);
    }

    @Override
    public boolean strictKeys() {
        return false;
    }

    @Override
    public String describe() {
        return file.path().getFileName().toString();
    }

    @Override
    public void close() {
        try {
            file.close();
        } finally {
            if (owned != null) owned.close();
        }
    }
}
