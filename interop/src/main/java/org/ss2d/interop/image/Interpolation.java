package org.ss2d.interop.image;

import java.util.Arrays;
import java.util.Locale;
import org.ss2d.validate.Ss2dArgumentException;

/** The resampling filters of PIL's {@code Image.resize} that VMamba's transform may use. */
public enum Interpolation {
    /** PIL's BICUBIC: Keys' cubic with a = -0.5, support 2 (scaled by the downscale factor). */
    BICUBIC(2.0) {
        @Override
        double weight(double x) {
            final double a = -0.5;
            x = Math.abs(x);
            if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
            if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
            return 0.0;
        }
    },
    /** PIL's BILINEAR: the triangle filter, support 1 (scaled by the downscale factor). */
    BILINEAR(1.0) {
        @Override
        double weight(double x) {
            x = Math.abs(x);
            return x < 1.0 ? 1.0 - x : 0.0;
        }
    };

    final double support;

    Interpolation(double support) {
        this.support = support;
    }

    abstract double weight(double x);

    /** {@code bicubic} or {@code bilinear} (torchvision's names), any case. */
    public static Interpolation of(String name) {
        for (Interpolation i : values()) {
            if (i.name().equalsIgnoreCase(name)) return i;
        }
        throw new Ss2dArgumentException("interpolation", "one of " + Arrays.toString(values()).toLowerCase(Locale.ROOT),
                "\"" + name + "\"", null);
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
