#!/usr/bin/env python3
"""Fixtures for the Java `preprocess_image` test: images and what PIL + torchvision make of them.

For every fixture this writes the image file, the 8-bit image after torchvision's
`Resize(resize, interpolation)` and `CenterCrop(crop)` on the PIL image (as a PNG, so it is stored
exactly), and for the small ones the float32 tensor after `ToTensor()` and `Normalize(mean, std)`
(raw little-endian float32, (3, crop, crop)). `MANIFEST.json` lists them with their options.

The images are opened as VMamba's data loader opens them, `Image.open(f).convert("RGB")`.
Synthetic images (seeded gradients, shapes and noise) cover up- and downscaling, portrait and
landscape, a crop larger than the resized image (zero padding), crop offsets of x.5 (Python's round
half to even), both filters, and grey, palette and RGBA PNGs. Real photos: scikit-image's sample
photos `chelsea.png` and `coffee.png` (CC0) re-encoded as JPEG by PIL (4:2:0 baseline; 4:4:4
progressive), and `rocket.jpg` (public domain, as scikit-image ships it).

The script also checks, on every fixture, that torchvision's transform of a PIL image is PIL's
`Image.resize(size, filter)` plus a numpy crop, normalise (what the Java code reimplements).

    python3 make_image_fixtures.py --skimage-data DIR --out interop/src/test/resources/images

Needs pillow, numpy and torchvision (CPU); DIR is the `skimage/data` folder of a scikit-image wheel.
"""
import argparse
import json
import os
import shutil

import numpy as np
from PIL import Image

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def synthetic(w, h, seed):
    """A photo-like RGB image: smooth gradients, a few sharp-edged shapes, fine noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for c in range(3):
        fx, fy, ph = rng.uniform(0.5, 4.0), rng.uniform(0.5, 4.0), rng.uniform(0, 6.3)
        img[..., c] = 128 + 90 * np.sin(2 * np.pi * (fx * xx / w + fy * yy / h) + ph)
    for _ in range(4):        # rectangles and discs with hard edges (ringing of the cubic, clipping)
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        r = rng.integers(2, max(3, min(w, h) // 3))
        col = rng.integers(0, 256, 3)
        if rng.random() < 0.5:
            img[max(0, y0 - r):y0 + r, max(0, x0 - r):x0 + r] = col
        else:
            img[(xx - x0) ** 2 + (yy - y0) ** 2 < r * r] = col
    img += rng.normal(0, 6, img.shape)
    img[0, 0] = 0            # the extremes
    img[-1, -1] = 255
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


def import_torchvision():
    """torchvision; a wheel whose compiled ops do not match the installed torch (a CUDA build beside a
    CPU torch, say) fails in its op registrations, which transforms of PIL images never use: then
    those registrations are skipped."""
    try:
        import torchvision
    except RuntimeError:
        import sys
        import types
        for m in [m for m in sys.modules if m.startswith("torchvision")]:
            del sys.modules[m]
        sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
        import torchvision
    return torchvision


def torchvision_transform(pil_rgb, resize, crop, interpolation):
    import torch
    import_torchvision()
    from torchvision import transforms
    from torchvision.transforms import InterpolationMode
    mode = {"bicubic": InterpolationMode.BICUBIC, "bilinear": InterpolationMode.BILINEAR}[interpolation]
    rc = transforms.Compose([transforms.Resize(resize, interpolation=mode), transforms.CenterCrop(crop)])
    cropped = rc(pil_rgb)
    x = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])(cropped)
    assert x.dtype == torch.float32
    return np.asarray(cropped), x.numpy()


def by_hand(pil_rgb, resize, crop, interpolation):
    """What the Java code reimplements: PIL resize to torchvision's size, crop, ToTensor, Normalize."""
    w, h = pil_rgb.size
    short, long = min(w, h), max(w, h)
    new_long = int(resize * long / short)
    size = (resize, new_long) if w <= h else (new_long, resize)
    flt = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}[interpolation]
    r = pil_rgb if size == (w, h) else pil_rgb.resize(size, flt)
    a = np.asarray(r)
    H, W = a.shape[:2]

    def offset(n):
        return -((crop - n) // 2) if crop > n else int(round((n - crop) / 2.0))
    top, left = offset(H), offset(W)
    out = np.zeros((crop, crop, 3), np.uint8)
    for y in range(crop):
        sy = y + top
        if 0 <= sy < H:
            for x in range(crop):
                sx = x + left
                if 0 <= sx < W:
                    out[y, x] = a[sy, sx]
    t = out.astype(np.float32).transpose(2, 0, 1) / np.float32(255)
    x = (t - np.array(MEAN, np.float32)[:, None, None]) / np.array(STD, np.float32)[:, None, None]
    return out, x.astype(np.float32)


def write_preprocess_case(path, image, options):
    import pyarrow as pa
    import torch
    import_torchvision()
    from torchvision import transforms
    from torchvision.transforms import InterpolationMode
    mode = {"bicubic": InterpolationMode.BICUBIC, "bilinear": InterpolationMode.BILINEAR}[options.get("interpolation", "bicubic")]
    t = transforms.Compose([transforms.Resize(options.get("resize", 256), interpolation=mode),
                            transforms.CenterCrop(options.get("crop", 224)), transforms.ToTensor(),
                            transforms.Normalize(options.get("mean", MEAN), options.get("std", STD))])
    x = t(Image.fromarray(image, "RGB")).unsqueeze(0).numpy()
    cols = []
    for name, arr in [("image", image.astype(np.uint8)), ("x", x.astype(np.float32))]:
        storage = pa.FixedSizeListArray.from_arrays(pa.array(arr.reshape(-1)), int(arr.size))
        tt = pa.fixed_shape_tensor(pa.from_numpy_dtype(arr.dtype), list(arr.shape))
        cols.append((pa.field(name, tt), pa.ExtensionArray.from_storage(tt, storage)))
    schema = pa.schema([c[0] for c in cols], metadata={"ss2d.kind": "preprocess_image", "ss2d.options": json.dumps(options),
                                                        "ss2d.note": "x made by torchvision from the PIL image"})
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, schema) as w:
        w.write_batch(pa.record_batch([c[1] for c in cols], schema=schema))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skimage-data", required=True, help="skimage/data folder of a scikit-image wheel")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)
    fixtures = []   # (file name, options, write tensor?)

    def add_synth(name, w, h, seed, resize, crop, interp, save=None, with_x=True):
        img = synthetic(w, h, seed)
        if save == "L":
            img = img.convert("L")
        elif save == "P":
            img = img.convert("P", palette=Image.ADAPTIVE, colors=64)
        elif save == "RGBA":
            a = np.asarray(img)
            alpha = (np.arange(w)[None, :] * 255 // max(1, w - 1)).repeat(h, 0).astype(np.uint8)
            img = Image.fromarray(np.dstack([a, alpha]), "RGBA")
        img.save(os.path.join(out, name), optimize=True)
        fixtures.append((name, dict(resize=resize, crop=crop, interpolation=interp), with_x))

    add_synth("synth_37x23_up.png", 37, 23, 1, 64, 56, "bicubic")             # upscale, landscape
    add_synth("synth_23x61_up_bilinear.png", 23, 61, 2, 32, 32, "bilinear")   # upscale, portrait
    add_synth("synth_240x160_down.png", 240, 160, 3, 48, 40, "bicubic")       # downscale x3.33
    add_synth("synth_161x121_down_bilinear.png", 161, 121, 4, 50, 35, "bilinear")  # odd factors, x.5 offsets
    add_synth("synth_101x203_pad.png", 101, 203, 5, 50, 56, "bicubic")        # crop wider than the image
    add_synth("synth_97x97_noresize.png", 97, 97, 6, 97, 50, "bicubic")       # no resize, offset 23.5 -> 24
    add_synth("synth_64x90_grey.png", 64, 90, 7, 40, 33, "bicubic", save="L")
    add_synth("synth_80x60_palette.png", 80, 60, 8, 30, 30, "bicubic", save="P")
    add_synth("synth_70x50_rgba.png", 70, 50, 9, 36, 32, "bilinear", save="RGBA")
    add_synth("synth_160x120_default.png", 160, 120, 10, 256, 224, "bicubic", with_x=False)  # the default transform

    sk = args.skimage_data
    Image.open(os.path.join(sk, "chelsea.png")).convert("RGB").save(
        os.path.join(out, "chelsea_q90.jpg"), quality=90)                       # 4:2:0 baseline
    Image.open(os.path.join(sk, "coffee.png")).convert("RGB").save(
        os.path.join(out, "coffee_q85_444_progressive.jpg"), quality=85, subsampling=0, progressive=True)
    shutil.copyfile(os.path.join(sk, "rocket.jpg"), os.path.join(out, "rocket.jpg"))
    for n in ["chelsea_q90.jpg", "rocket.jpg"]:
        fixtures.append((n, dict(resize=256, crop=224, interpolation="bicubic"), False))
    fixtures.append(("coffee_q85_444_progressive.jpg", dict(resize=128, crop=112, interpolation="bicubic"), False))
    fixtures.append(("chelsea_q90.jpg", dict(resize=64, crop=56, interpolation="bilinear"), True))

    manifest = {"mean": MEAN, "std": STD, "fixtures": []}
    for i, (name, opt, with_x) in enumerate(fixtures):
        pil = Image.open(os.path.join(out, name)).convert("RGB")
        crop_tv, x_tv = torchvision_transform(pil, opt["resize"], opt["crop"], opt["interpolation"])
        crop_bh, x_bh = by_hand(pil, opt["resize"], opt["crop"], opt["interpolation"])
        assert np.array_equal(crop_tv, crop_bh), name
        assert np.array_equal(x_tv, x_bh), (name, np.abs(x_tv - x_bh).max())
        stem = f"{os.path.splitext(name)[0]}.r{opt['resize']}c{opt['crop']}{opt['interpolation']}"
        Image.fromarray(crop_tv, "RGB").save(os.path.join(out, stem + ".expected.png"), optimize=True)
        entry = dict(image=name, width=pil.size[0], height=pil.size[1], **opt,
                     expected_crop=stem + ".expected.png")
        if with_x:
            x_tv.astype("<f4").tofile(os.path.join(out, stem + ".expected.f32"))
            entry["expected_x"] = stem + ".expected.f32"
        manifest["fixtures"].append(entry)
    # preprocess_image case files: the decoded image as a uint8 (H, W, 3) column, the options, and
    # torchvision's x as the expected column.
    for name, src, opt in [
            ("case_preprocess_options.arrow", "synth_37x23_up.png",
             dict(resize=48, crop=40, interpolation="bilinear", mean=[0.5, 0.25, 0.125], std=[0.3, 0.2, 0.1])),
            ("case_preprocess_defaults_small.arrow", "synth_23x61_up_bilinear.png", dict(crop=32))]:
        pil = Image.open(os.path.join(out, src)).convert("RGB")
        write_preprocess_case(os.path.join(out, name), np.asarray(pil), opt)
        manifest.setdefault("cases", []).append(name)
    import PIL
    torchvision = import_torchvision()
    manifest["made_with"] = f"pillow {PIL.__version__}, torchvision {torchvision.__version__}, numpy {np.__version__}"
    with open(os.path.join(out, "MANIFEST.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print(f"{len(fixtures)} fixtures, {total / 1e3:.0f} kB in {out}; torchvision == PIL resize + crop on all")


if __name__ == "__main__":
    main()
