package org.ss2d.spi;

import java.util.List;
import java.util.Map;
import org.ss2d.tensor.Tensor;

/**
 * A whole VMamba model prepared by a backend ({@link Backend#prepareModel}): weights in the backend's
 * form (uploaded once on a device), workspaces kept between calls and grown only for a larger shape.
 * Inputs were validated by the facade ({@code org.ss2d.VMambaModel}), which also serialises calls.
 */
public interface ModelRunner extends AutoCloseable {
    /**
     * Class scores of a batch of images.
     *
     * @param x   {@code (batch, in_chans, H, W)}
     * @param out {@code (batch, num_classes)}, written in full
     */
    void logits(Tensor x, Tensor out);

    /**
     * {@code x (batch, in_chans, H, W)} to the four stage maps {@code outs[i] (batch, dims[i], H_i, W_i)}: the
     * output of stage i's blocks before its downsampling, through {@code outnorm<i>} when the weights have it.
     *
     * @param x    {@code (batch, in_chans, H, W)}
     * @param outs four tensors {@code (batch, dims[i], H_i, W_i)}, written in full
     */
    void features(Tensor x, List<Tensor> outs);

    /**
     * Switches the per-layer-kind timing on or off (off by default: it adds a clock read per layer).
     *
     * @param on true to time the following calls
     */
    default void profiling(boolean on) {}

    /**
     * Wall-clock nanoseconds per layer kind summed over the calls since profiling was switched on, in
     * forward order ({@code patch_embed}, {@code norm}, {@code in_proj}, ..., {@code head}); empty when off.
     *
     * @return nanoseconds by layer kind
     */
    default Map<String, Long> profile() {
        return Map.of();
    }

    /** Frees the workspaces and any device copies of the weights; the caller's tensors stay. */
    @Override
    void close();
}
