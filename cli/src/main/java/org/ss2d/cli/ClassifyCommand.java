package org.ss2d.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.ss2d.Ss2d;
import org.ss2d.VMambaModel;
import org.ss2d.interop.cases.CaseOptions;
import org.ss2d.interop.cases.ModelCalls;
import org.ss2d.interop.image.ImageFiles;
import org.ss2d.interop.image.ImagePreprocessor;
import org.ss2d.interop.image.RgbImage;
import org.ss2d.interop.safetensors.SafeTensorsFile;
import org.ss2d.model.vmamba.VMambaConfig;
import org.ss2d.model.vmamba.VMambaWeights;
import org.ss2d.tensor.Tensor;
import org.ss2d.tensor.TensorScope;
import org.ss2d.validate.Ss2dArgumentException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ss2d classify}: VMamba on images. Each image goes through VMamba's evaluation transform
 * ({@link ImagePreprocessor}), the model runs in batches, and the top-k classes are printed with their
 * softmax probabilities. A missing or unreadable image, weights that do not fit the model, or a labels
 * file of the wrong length are one line on stderr and exit status 2, before any image is classified.
 */
@Command(name = "classify", description = "Classify images with a VMamba model from a safetensors checkpoint.")
final class ClassifyCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "NAME",
            description = "The configuration: one of ${COMPLETION-CANDIDATES}.", completionCandidates = Models.class)
    String model;

    @Option(names = "--weights", required = true, paramLabel = "FILE",
            description = "The checkpoint as safetensors (interop/scripts/vmamba_checkpoint_to_safetensors.py).")
    Path weights;

    @Option(names = "--backend", paramLabel = "NAME", description = "Run on this backend (default: the best available).")
    String backend;

    @Option(names = "--top", paramLabel = "K", defaultValue = "5", description = "Classes to print per image (default ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--labels", paramLabel = "FILE", description = "Class names, one per line, in class order.")
    Path labels;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "8", description = "Images per model call (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--no-progress", description = "No progress bar (it is shown on a terminal for more than one image).")
    boolean noProgress;

    @Parameters(paramLabel = "IMAGE", arity = "1..*", description = "JPEG or PNG files.")
    List<Path> images;

    static final class Models extends ArrayList<String> {
        Models() {
            super(VMambaConfig.RELEASED);
        }
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        if (top < 1) throw new Errors.Rejected("--top: expected K >= 1, found " + top);
        if (batch < 1) throw new Errors.Rejected("--batch: expected N >= 1, found " + batch);
        VMambaConfig named = VMambaConfig.named(model);
        for (Path p : images) {
            if (!Files.isRegularFile(p)) throw new Errors.Rejected("IMAGE: expected a JPEG or PNG file, found no file " + p);
        }
        if (!Files.isRegularFile(weights)) throw new Errors.Rejected("--weights: expected a .safetensors file, found no file " + weights);
        Ss2d ss = Backs.facade(backend);
        ImagePreprocessor pre = ImagePreprocessor.imagenet();
        try (SafeTensorsFile file = open(weights); TensorScope scope = TensorScope.root("classify")) {
            Map<String, Tensor> dict = new LinkedHashMap<>();
            for (String k : file.keys()) if (file.isFloat(k)) dict.put(k, file.load(k));
            VMambaWeights w = VMambaWeights.fromStateDict(dict);
            try {
                ModelCalls.checkOptions(CaseOptions.of(Map.of("variant", named.name())), w.config(), false);
            } catch (Ss2dArgumentException e) {
                throw new Errors.Rejected("--weights: " + weights.getFileName() + " holds " + w.config()
                        + ", not --model " + named.name());
            }
            List<String> names = labels == null ? null : readLabels(w.config().numClasses());
            List<String> lines = new ArrayList<>();
            try (VMambaModel m = VMambaModel.of(ss, w); ProgressBar bar = progress(images.size())) {
                for (int from = 0; from < images.size(); from += batch) {
                    List<Path> chunk = images.subList(from, Math.min(images.size(), from + batch));
                    List<RgbImage> decoded = new ArrayList<>();
                    for (Path p : chunk) decoded.add(read(p));
                    try (TensorScope s = scope.child("batch"); Tensor x = pre.tensor(s, decoded); Tensor logits = m.logits(s, x)) {
                        float[] all = logits.toFloatArray();
                        int classes = (int) logits.dim(1);
                        for (int i = 0; i < chunk.size(); i++) {
                            lines.add(chunk.get(i).toString());
                            lines.addAll(topK(all, i * classes, classes, names));
                        }
                    }
                    if (bar != null) bar.stepBy(chunk.size());
                }
                lines.add(String.format(Locale.ROOT, "(%s on %s, %d image%s)", w.config().name(), m.backend().name(),
                        images.size(), images.size() == 1 ? "" : "s"));
            }
            lines.forEach(out::println);
        }
        out.flush();
        return Main.OK;
    }

    private static SafeTensorsFile open(Path p) {
        try {
            return SafeTensorsFile.open(p);
        } catch (RuntimeException e) {
            throw new Errors.Rejected("--weights: " + p + " is not a readable safetensors file (" + e.getMessage() + ")");
        }
    }

    private static RgbImage read(Path p) {
        try {
            return ImageFiles.read(p);
        } catch (IOException | Ss2dArgumentException e) {
            throw new Errors.Rejected("IMAGE: " + e.getMessage());
        }
    }

    private List<String> readLabels(int classes) throws IOException {
        if (!Files.isRegularFile(labels)) throw new Errors.Rejected("--labels: expected a text file, found no file " + labels);
        List<String> l = Files.readAllLines(labels, StandardCharsets.UTF_8);
        while (!l.isEmpty() && l.getLast().isBlank()) l.removeLast();
        if (l.size() != classes) {
            throw new Errors.Rejected("--labels: expected " + classes + " lines (one per class), found " + l.size() + " in " + labels);
        }
        return l;
    }

    /** The k best classes of one row, with softmax probabilities (in double, max subtracted). */
    private List<String> topK(float[] logits, int off, int classes, List<String> names) {
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < classes; c++) max = Math.max(max, logits[off + c]);
        double sum = 0;
        for (int c = 0; c < classes; c++) sum += Math.exp(logits[off + c] - max);
        Integer[] order = new Integer[classes];
        for (int c = 0; c < classes; c++) order[c] = c;
        java.util.Arrays.sort(order, (a, b) -> Float.compare(logits[off + b], logits[off + a]));
        List<String> out = new ArrayList<>();
        for (int r = 0; r < Math.min(top, classes); r++) {
            int c = order[r];
            double p = Math.exp(logits[off + c] - max) / sum;
            out.add(String.format(Locale.ROOT, "  %2d. %7.4f  %4d%s", r + 1, p, c, names == null ? "" : "  " + names.get(c)));
        }
        return out;
    }

    /** A bar on stderr for several images on an interactive terminal; none otherwise (logs stay clean). */
    private ProgressBar progress(int n) {
        if (noProgress || n < 2 || System.console() == null) return null;
        return new ProgressBarBuilder().setTaskName("classify").setInitialMax(n).setUnit(" images", 1)
                .setStyle(ProgressBarStyle.ASCII).continuousUpdate().build();
    }
}
