#!/usr/bin/env python3
"""Extra decoder/preprocessing fixtures for EdgeImagingTests, made with Pillow (the oracle) at test-setup time.

    python Tests/Fixtures/make_imaging_fixtures.py [--out .fixtures/imaging] [--images ../shared/testdata/images]

Writes <out>/manifest.json plus small files:
  decode:  PNG and JPEG kinds the photo set lacks (palette, tRNS, RGBA, gray+alpha, 1/2/4/16-bit, gAMA/sRGB/iCCP,
           interlaced, CMYK/gray/progressive/4:4:4 JPEG), each with Pillow's convert('RGB') and convert('L') bytes,
           or the error the Swift decoder must give ("unsupported": 16-bit PNG with transparent alpha).
  padded:  preprocessing cases where the crop is larger than the resized image, so torchvision's center_crop
           zero-pads first (the branch make_fixtures.py never reaches), computed here with numpy; plus tall strips
           (images/, "local": true) whose resize runs Pillow's vertical pass first.
  resize:  Pillow BILINEAR resizes that the presets do not reach (upscaling, an unchanged axis, 1x1, ...).
Defaults follow make_fixtures.py: $RESNET_EDGE_FIXTURES (else <repo>/.fixtures) + /imaging, $RESNET_EDGE_SHARED
(else <repo>/../shared) + /testdata/images. Needs numpy and Pillow only. Always rewrites <out> (it takes ~1 s).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import struct
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
VERSION = 1


def default_paths() -> tuple[Path, Path]:
    fixtures = Path(os.environ.get("RESNET_EDGE_FIXTURES") or REPO / ".fixtures")
    shared = Path(os.environ.get("RESNET_EDGE_SHARED") or REPO.parent / "shared")
    return fixtures / "imaging", shared / "testdata" / "images"


# ---------------------------------------------------------------------------------------------------------------
# A raw PNG writer, for the kinds Pillow cannot save (2/4-bit gray, 16-bit colour with alpha, chosen chunks, Adam7).

def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pack_row(values: np.ndarray, bit_depth: int) -> bytes:
    """One row of samples (already interleaved) packed at bit_depth."""
    if bit_depth == 16:
        return values.astype(">u2").tobytes()
    if bit_depth == 8:
        return values.astype(np.uint8).tobytes()
    per = 8 // bit_depth
    v = list(values.astype(int)) + [0] * ((-len(values)) % per)
    out = bytearray()
    for i in range(0, len(v), per):
        b = 0
        for j in range(per):
            b = (b << bit_depth) | v[i + j]
        out.append(b)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def raw_png(samples: np.ndarray, color_type: int, bit_depth: int, extra: list[tuple[bytes, bytes]] = (),
            palette: np.ndarray | None = None, interlace: bool = False) -> bytes:
    """samples: HxWxC integer array (C = channels of color_type; palette indices for type 3)."""
    h, w = samples.shape[:2]
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        for row in sub:
            raw += b"\x00" + pack_row(row.reshape(-1), bit_depth)
    body = chunk(b"IHDR", ihdr)
    for kind, data in extra:
        body += chunk(kind, data)
    if palette is not None:
        body += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    compressed = zlib.compress(bytes(raw), 9)
    # Two IDAT chunks, to exercise chunk boundaries.
    half = len(compressed) // 2
    body += chunk(b"IDAT", compressed[:half]) + chunk(b"IDAT", compressed[half:])
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IEND", b"")


def gama(gamma: float) -> tuple[bytes, bytes]:
    return (b"gAMA", struct.pack(">I", int(round(100000 / gamma))))


# ---------------------------------------------------------------------------------------------------------------

def pillow_bytes(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    warnings.filterwarnings("ignore", message="Palette images with Transparency")
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
        gray = np.asarray(im.convert("L"), dtype=np.uint8)
    return rgb, gray


def decode_cases(photo: Image.Image) -> dict[str, tuple[bytes, str | None]]:
    """name -> (file bytes, expected error kind or None). `photo` is an RGB crop of a real photo."""
    rng = np.random.default_rng(20240601)
    rgb = np.asarray(photo, dtype=np.uint8)
    h, w = rgb.shape[:2]
    gray = np.asarray(photo.convert("L"), dtype=np.uint8)
    alpha = rng.integers(0, 256, (h, w), dtype=np.uint8)
    alpha[: h // 4] = 0  # fully transparent band: compositing would be visible there
    cases: dict[str, tuple[bytes, str | None]] = {}

    def pil_save(im: Image.Image, fmt: str, **kw) -> bytes:
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        return buf.getvalue()

    # PNG kinds Pillow writes.
    cases["rgba8.png"] = (pil_save(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "PNG"), None)
    cases["la8.png"] = (pil_save(Image.fromarray(np.dstack([gray, alpha]), "LA"), "PNG"), None)
    pal = photo.quantize(colors=200)
    cases["palette.png"] = (pil_save(pal, "PNG"), None)
    pal_t = pal.copy()
    pal_t.info["transparency"] = bytes(rng.integers(0, 256, 200, dtype=np.uint8))
    cases["palette-trns.png"] = (pil_save(pal_t, "PNG", transparency=pal_t.info["transparency"]), None)
    cases["palette-4bit.png"] = (pil_save(photo.quantize(colors=16), "PNG", bits=4), None)
    cases["gray-trns.png"] = (pil_save(Image.fromarray(gray, "L"), "PNG", transparency=int(gray[h // 2, w // 2])), None)
    r, g, b = (int(v) for v in rgb[h // 2, w // 2])
    cases["rgb-trns.png"] = (pil_save(photo, "PNG", transparency=(r, g, b)), None)
    cases["gray1.png"] = (pil_save(Image.fromarray(gray, "L").convert("1"), "PNG"), None)
    cases["rgb-icc.png"] = (pil_save(photo, "PNG", icc_profile=_srgb_like_icc()), None)

    # PNG kinds written raw.
    g16 = rng.integers(0, 65536, (h, w), dtype=np.uint32)
    g16[: h // 3] = rng.integers(0, 300, (h // 3, w))  # mostly at or below 255, so the clip shows
    rgb16 = (rgb.astype(np.uint32) << 8) | rng.integers(0, 256, rgb.shape)
    a16 = (alpha.astype(np.uint32) << 8) | rng.integers(0, 256, (h, w))
    opaque16 = np.full((h, w), 65535, np.uint32)
    cases["gray2.png"] = (raw_png((gray >> 6)[..., None], 0, 2), None)
    cases["gray4.png"] = (raw_png((gray >> 4)[..., None], 0, 4), None)
    cases["gray16.png"] = (raw_png(g16[..., None], 0, 16), None)
    cases["gray16-trns.png"] = (raw_png(g16[..., None], 0, 16, [(b"tRNS", struct.pack(">H", int(g16[0, 0])))]), None)
    cases["gray16-gama.png"] = (raw_png(g16[..., None], 0, 16, [gama(1.0)]), None)
    cases["rgb16.png"] = (raw_png(rgb16, 2, 16), None)
    cases["rgb16-srgb-gama.png"] = (raw_png(rgb16, 2, 16, [(b"sRGB", b"\x00"), gama(1 / 2.2)]), None)
    cases["rgb16-gama1.png"] = (raw_png(rgb16, 2, 16, [gama(1.0)]), None)
    rr, gg, bb = (int(v) for v in rgb16[0, 0])
    cases["rgb16-trns.png"] = (raw_png(rgb16, 2, 16, [(b"tRNS", struct.pack(">HHH", rr, gg, bb))]), None)
    cases["rgba16-opaque.png"] = (raw_png(np.dstack([rgb16, opaque16]), 6, 16), None)
    cases["la16-opaque.png"] = (raw_png(np.dstack([g16, opaque16]), 4, 16), None)
    cases["rgba16-transparent.png"] = (raw_png(np.dstack([rgb16, a16]), 6, 16), "unsupported")
    cases["la16-transparent.png"] = (raw_png(np.dstack([g16, a16]), 4, 16), "unsupported")
    cases["rgb8-gama1.png"] = (raw_png(rgb, 2, 8, [gama(1.0)]), None)
    cases["rgb8-gama-chrm.png"] = (raw_png(rgb, 2, 8, [gama(1.8), (b"cHRM", struct.pack(
        ">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000))]), None)
    cases["rgba8-gama1.png"] = (raw_png(np.dstack([rgb, alpha]), 6, 8, [gama(1.0)]), None)
    cases["rgb8-interlaced.png"] = (raw_png(rgb, 2, 8, interlace=True), None)
    cases["gray4-interlaced.png"] = (raw_png((gray >> 4)[..., None], 0, 4, interlace=True), None)
    cases["palette2-gama.png"] = (raw_png((gray >> 6)[..., None], 3, 2, [gama(1.0)],
                                          palette=np.array([[0, 0, 0], [200, 10, 10], [10, 200, 10], [250, 250, 250]])),
                                  None)

    # JPEG kinds.
    cases["gray.jpg"] = (pil_save(Image.fromarray(gray, "L"), "JPEG", quality=90), None)
    cases["cmyk.jpg"] = (pil_save(photo.convert("CMYK"), "JPEG", quality=90), None)
    cases["progressive.jpg"] = (pil_save(photo, "JPEG", quality=85, progressive=True), None)
    cases["444.jpg"] = (pil_save(photo, "JPEG", quality=95, subsampling=0), None)
    cases["422.jpg"] = (pil_save(photo, "JPEG", quality=75, subsampling=1), None)
    cases["restart.jpg"] = (pil_save(photo, "JPEG", quality=80, restart_marker_blocks=2), None)
    return cases


def _srgb_like_icc() -> bytes:
    """Some ICC profile bytes (Pillow's ImageCms is optional; a header-only profile is enough for the PNG chunk)."""
    header = bytearray(128)
    struct.pack_into(">I", header, 0, 128)
    header[12:16] = b"mntr"
    header[16:20] = b"RGB "
    header[20:24] = b"XYZ "
    header[36:40] = b"acsp"
    return bytes(header) + struct.pack(">I", 0)


def torchvision_preprocess(path: Path, preset: dict) -> tuple[np.ndarray, np.ndarray]:
    """Like make_fixtures.preprocess, but with torchvision's center_crop padding branch (fill 0) implemented."""
    with Image.open(path) as src:
        img = src.convert("L" if preset["grayscale"] else "RGB")
    size = preset["resize"]
    if size:
        w, h = img.size
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = size, int(size * long / short)
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        if (new_w, new_h) != (w, h):
            img = img.resize((new_w, new_h), Image.BILINEAR)
    u8 = np.asarray(img, dtype=np.uint8)
    if u8.ndim == 2:
        u8 = u8[:, :, None]
    crop_h, crop_w = preset["crop"]
    h, w = u8.shape[:2]
    if crop_w > w or crop_h > h:
        left = (crop_w - w) // 2 if crop_w > w else 0
        top = (crop_h - h) // 2 if crop_h > h else 0
        right = (crop_w - w + 1) // 2 if crop_w > w else 0
        bottom = (crop_h - h + 1) // 2 if crop_h > h else 0
        u8 = np.pad(u8, ((top, bottom), (left, right), (0, 0)), mode="constant", constant_values=0)
        h, w = u8.shape[:2]
    top = int(round((h - crop_h) / 2.0))
    left = int(round((w - crop_w) / 2.0))
    u8 = np.ascontiguousarray(u8[top:top + crop_h, left:left + crop_w])
    mean = np.asarray(preset["mean"], dtype=np.float32)
    std = np.asarray(preset["std"], dtype=np.float32)
    x = (u8.astype(np.float32) / np.float32(255) - mean) / std
    pad = preset["pad"]
    if pad:
        fill = (np.float32(0) - mean) / std
        x = np.pad(x, ((pad, pad), (pad, pad), (0, 0)), mode="constant", constant_values=fill.item())
    if x.shape[2] == 1 and preset["channels"] == 3:
        x = np.repeat(x, 3, axis=2)
    return u8, np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)


IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "grayscale": False, "pad": 0, "channels": 3}
PADDED = [
    # torchvision's 256/224 rule for a 192x160 input: resize 183 < crop height 192 on landscape and square photos.
    ("sklearn_china.jpg", dict(IMAGENET, resize=183, crop=[192, 160])),
    ("darknet_giraffe.jpg", dict(IMAGENET, resize=183, crop=[192, 160])),
    ("mpl_grace_hopper.jpg", dict(IMAGENET, resize=183, crop=[192, 160])),
    # Smaller than the crop in both dimensions (odd differences: right/bottom get the extra pixel).
    ("skimage_coffee.png", dict(IMAGENET, resize=21, crop=[32, 40])),
    ("skimage_camera.png", {"resize": 9, "crop": [12, 14], "mean": [0.5], "std": [0.25], "grayscale": True,
                            "pad": 3, "channels": 3}),
    # Tall strips (made below from photos): height shrinks > 2x as many pixels as width, so Pillow resizes
    # vertically first; the crop windows the two passes.
    ("tall-retina.png", dict(IMAGENET, resize=256, crop=[224, 224])),
    ("tall-hopper.png", {"resize": 28, "crop": [28, 28], "mean": [0.286], "std": [0.353], "grayscale": True,
                         "pad": 2, "channels": 3}),
    # No resize at all, crop larger than the photo in width only.
    ("skimage_coins.png", {"resize": 0, "crop": [301, 390], "mean": [0.286], "std": [0.353], "grayscale": True,
                           "pad": 0, "channels": 1}),
]


# Direct Pillow BILINEAR resizes (image, mode, (width, height)): upscales, one axis unchanged, extreme reductions.
RESIZES = [
    ("skimage_coins.png", "L", (500, 401)),
    ("skimage_coins.png", "L", (384, 100)),     # width unchanged: Pillow skips the horizontal pass
    ("skimage_coins.png", "L", (97, 303)),      # height unchanged: vertical pass skipped
    ("skimage_coins.png", "L", (384, 303)),     # nothing to do
    ("skimage_chelsea.png", "RGB", (1000, 150)),
    ("skimage_chelsea.png", "RGB", (1, 1)),
    ("skimage_retina.jpg", "RGB", (7, 5)),
    ("skimage_retina.jpg", "RGB", (333, 1411)),
    ("darknet_kite.jpg", "L", (1351, 899)),     # a hair smaller: support just above 1
    ("skimage_retina.jpg", "RGB", (1300, 300)),  # both smaller, height by > 2x as many pixels: vertical pass first
    ("mpl_grace_hopper.jpg", "L", (500, 200)),   # vertical first
    ("mpl_grace_hopper.jpg", "L", (400, 377)),   # 223 == 2 * 112 - 1: horizontal first, just
    ("mpl_grace_hopper.jpg", "L", (400, 375)),   # 225 > 224: vertical first, just
]


def main() -> int:
    d_out, d_images = default_paths()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=d_out)
    ap.add_argument("--images", type=Path, default=d_images)
    args = ap.parse_args()
    out: Path = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    (out / "decode").mkdir(parents=True)
    (out / "padded").mkdir()
    (out / "resize").mkdir()

    with Image.open(args.images / "skimage_chelsea.png") as im:
        photo = im.convert("RGB").crop((180, 60, 180 + 67, 60 + 45))  # odd sizes on purpose
    manifest: dict = {"version": VERSION, "decode": [], "padded": [], "resize": []}
    for name, (data, error) in decode_cases(photo).items():
        (out / "decode" / name).write_bytes(data)
        entry: dict = {"file": f"decode/{name}"}
        if error:
            entry["error"] = error
        else:
            rgb, gray = pillow_bytes(data)
            stem = name.rsplit(".", 1)[0] + "-" + name.rsplit(".", 1)[1]
            rgb.tofile(out / "decode" / f"{stem}.rgb.u8")
            gray.tofile(out / "decode" / f"{stem}.l.u8")
            with Image.open(io.BytesIO(data)) as im:
                entry["pillow_mode"] = im.mode
            entry.update(width=int(rgb.shape[1]), height=int(rgb.shape[0]),
                         rgb=f"decode/{stem}.rgb.u8", gray=f"decode/{stem}.l.u8")
        manifest["decode"].append(entry)

    # Portrait strips with an aspect ratio above 2, saved losslessly next to the manifest.
    (out / "images").mkdir()
    with Image.open(args.images / "skimage_retina.jpg") as im:
        im.convert("RGB").crop((500, 0, 800, 1411)).save(out / "images" / "tall-retina.png")
    with Image.open(args.images / "mpl_grace_hopper.jpg") as im:
        im.convert("RGB").crop((100, 0, 351, 600)).save(out / "images" / "tall-hopper.png")

    for i, (image, preset) in enumerate(PADDED):
        local = out / "images" / image
        u8, f = torchvision_preprocess(local if local.exists() else args.images / image, preset)
        stem = f"{i:02d}-{image.rsplit('.', 1)[0]}"
        u8.tofile(out / "padded" / f"{stem}.u8")
        f.astype("<f4").tofile(out / "padded" / f"{stem}.f32")
        manifest["padded"].append({"image": image, "local": local.exists(), "spec": preset, "uint8": f"padded/{stem}.u8",
                                   "uint8_shape": list(u8.shape), "float": f"padded/{stem}.f32",
                                   "float_shape": list(f.shape)})

    for i, (image, mode, size) in enumerate(RESIZES):
        with Image.open(args.images / image) as im:
            resized = np.asarray(im.convert(mode).resize(size, Image.BILINEAR), dtype=np.uint8)
        stem = f"{i:02d}-{image.rsplit('.', 1)[0]}-{size[0]}x{size[1]}"
        resized.tofile(out / "resize" / f"{stem}.u8")
        manifest["resize"].append({"image": image, "mode": mode, "width": size[0], "height": size[1],
                                   "uint8": f"resize/{stem}.u8"})

    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(manifest['decode'])} decode, {len(manifest['padded'])} padded-crop and "
          f"{len(manifest['resize'])} resize cases to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
