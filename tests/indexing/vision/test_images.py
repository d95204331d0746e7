"""What users upload: odd modes load as RGB the models accept; broken files are refused clearly."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from indexing.vision.errors import ImageError
from indexing.vision.images import load_image


def encoded(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims a size but that carries no pixel data (a cheap 'bomb')."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def jpeg_bytes(coco_image_paths) -> bytes:
    return coco_image_paths[13].read_bytes()


def test_truncated_jpeg_is_refused(jpeg_bytes) -> None:
    with pytest.raises(ImageError, match="truncated"):
        load_image(jpeg_bytes[: len(jpeg_bytes) // 2])


def test_non_image_bytes_are_refused(detector) -> None:
    # After the detector (yolov5, which patches Image.open via ultralytics) is loaded.
    with pytest.raises(ImageError, match="not an image"):
        load_image(b"%PDF-1.7 this is a document, not a photo")


def test_empty_input_is_refused(tmp_path) -> None:
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty.jpg is empty \(0 bytes\)"):
        load_image(empty)


def test_missing_file_is_refused(tmp_path) -> None:
    with pytest.raises(ImageError, match="could not be read"):
        load_image(tmp_path / "nope.jpg")


def test_image_over_the_pixel_limit_is_refused(settings, jpeg_bytes) -> None:
    settings.MAX_IMAGE_PIXELS = 100_000
    with pytest.raises(ImageError, match=r"500x375 = 187,500 pixels, over the limit of 100,000"):
        load_image(jpeg_bytes)


def test_huge_header_is_refused_before_decoding() -> None:
    # 7000x7000 is over our 40M default but under Pillow's own bomb limit: our check.
    with pytest.raises(ImageError, match="MAX_IMAGE_PIXELS"):
        load_image(png_header(7000, 7000), max_pixels=40_000_000)
    # 30000x30000 trips Pillow's DecompressionBombError inside Image.open: still ImageError.
    with pytest.raises(ImageError, match="pixels"):
        load_image(png_header(30000, 30000), max_pixels=10**12)


def test_path_and_file_like_sources(coco_image_paths, jpeg_bytes) -> None:
    from_path = load_image(coco_image_paths[13])
    from_str = load_image(str(coco_image_paths[13]))
    with coco_image_paths[13].open("rb") as handle:
        from_file = load_image(handle)
    from_bytes = load_image(jpeg_bytes)
    for image in (from_path, from_str, from_file, from_bytes):
        assert image.mode == "RGB" and image.size == (500, 375)
    assert np.array_equal(np.asarray(from_path), np.asarray(from_bytes))


def odd_mode_images() -> dict[str, tuple[bytes, tuple[int, int, int]]]:
    """Each mode encoded as a user would upload it, plus the RGB expected at pixel (0, 0)."""
    rgba = Image.new("RGBA", (64, 48), (255, 0, 0, 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))  # transparent black must become white
    palette = Image.new("P", (64, 48), 1)
    palette.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    palette.putpixel((0, 0), 0)
    la = Image.new("LA", (64, 48), (50, 255))
    la.putpixel((0, 0), (0, 0))
    sixteen = Image.fromarray(np.full((48, 64), 32768, dtype=np.uint16))
    sixteen.putpixel((0, 0), 65535)
    return {
        "RGB": (encoded(Image.new("RGB", (64, 48), (10, 20, 30)), "PNG"), (10, 20, 30)),
        "L": (encoded(Image.new("L", (64, 48), 77), "PNG"), (77, 77, 77)),
        "RGBA": (encoded(rgba, "PNG"), (255, 255, 255)),
        "LA": (encoded(la, "PNG"), (255, 255, 255)),
        "P": (encoded(palette, "PNG", transparency=0), (255, 255, 255)),
        "CMYK": (encoded(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG", quality=100), (255, 0, 0)),
        "I;16": (encoded(sixteen, "PNG"), (255, 255, 255)),
    }


@pytest.mark.parametrize("mode", list(odd_mode_images()))
def test_every_mode_becomes_rgb(mode) -> None:
    data, expected_corner = odd_mode_images()[mode]
    image = load_image(data)
    assert image.mode == "RGB" and image.size == (64, 48)
    assert np.allclose(image.getpixel((0, 0)), expected_corner, atol=3), image.getpixel((0, 0))


def test_sixteen_bit_is_scaled_not_clipped() -> None:
    data, _ = odd_mode_images()["I;16"]
    assert load_image(data).getpixel((10, 10)) == (128, 128, 128)  # 32768 of 65535


def test_odd_modes_feed_both_models(detector, embedder) -> None:
    images = [load_image(data) for data, _ in odd_mode_images().values()]
    assert len(detector.detect(images)) == len(images)
    vectors = embedder.embed_images(images)
    assert vectors.shape == (len(images), 512) and np.isfinite(vectors).all()


# --- Images that decode but would break the pipeline, and every way decoding fails ----


@pytest.mark.parametrize("size", [(5000, 1), (3, 4000), (21, 1), (1, 21)])
def test_images_too_elongated_for_the_detector_are_refused_with_their_size(size) -> None:
    width, height = size
    with pytest.raises(ImageError, match=rf"{width}x{height} pixels: more than 20 times as long as it is wide"):
        load_image(encoded(Image.new("RGB", size), "PNG"))


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (20, 1), (100, 2000)])
def test_tiny_and_long_but_usable_images_load(size, detector, embedder) -> None:
    image = load_image(encoded(Image.new("RGB", size, (90, 160, 30)), "PNG"))
    assert image.size == size
    # The rule is the models' own limit: both still take these.
    assert detector.detect([image]) == [[]]
    assert embedder.embed_images([image]).shape == (1, 512)


def test_ppm_with_a_bogus_header_is_refused() -> None:
    # Pillow raises ValueError from Image.open itself for this one.
    with pytest.raises(ImageError, match="could not be opened as an image: maxval"):
        load_image(b"P6\n10 10\n99999999\n" + b"\0" * 300)


PILLOW_ERRORS = [
    ValueError("bad value"),
    SyntaxError("broken PNG file"),
    OSError("image file is truncated"),
    struct.error("unpack requires a buffer of 4 bytes"),
    EOFError(),
    IndexError("tuple index out of range"),
    TypeError("bad operand"),
    KeyError("unknown tag"),
]


def raising(exc: BaseException):
    def fail(*args, **kwargs):
        raise exc

    return fail


@pytest.mark.parametrize("exc", PILLOW_ERRORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("step", ["open", "load", "convert"])
def test_any_pillow_exception_is_an_image_error_naming_the_image(monkeypatch, step, exc) -> None:
    from indexing.vision import images

    data = encoded(Image.new("L", (64, 48), 77), "PNG")  # L: loading it needs a convert to RGB
    if step == "open":
        monkeypatch.setattr(images, "pillow_open", lambda: raising(exc))
    elif step == "load":
        monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", raising(exc))
    else:
        monkeypatch.setattr(Image.Image, "convert", raising(exc))
    reasons = "could not be opened as an image: |is truncated or corrupt: |: Images in Pillow mode 'L' cannot"
    with pytest.raises(ImageError, match=f"^photo.png ?({reasons})"):
        load_image(data, name="photo.png")


def test_a_decompression_bomb_found_while_decoding_is_an_image_error(monkeypatch) -> None:
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", raising(Image.DecompressionBombError("bomb")))
    with pytest.raises(ImageError, match="too large to decode safely"):
        load_image(encoded(Image.new("RGB", (8, 8)), "PNG"))


def test_animated_gif_and_float_tiff_load_as_rgb() -> None:
    frames = [Image.new("P", (40, 30), index) for index in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    ramp = np.linspace(0.0, 1.0, 40 * 30, dtype=np.float32).reshape(30, 40)
    for data in (gif.getvalue(), encoded(Image.fromarray(ramp), "TIFF")):
        image = load_image(data)
        assert image.mode == "RGB" and image.size == (40, 30)
    assert load_image(encoded(Image.fromarray(ramp), "TIFF")).getpixel((39, 29)) == (255, 255, 255)


@pytest.mark.parametrize("kind", ["16-bit PNG", "float32 TIFF"])
def test_high_depth_images_become_rgb_without_a_float64_copy(kind) -> None:
    """A 36 MP float TIFF once took over 1 GB to convert; the scratch memory is now bounded.

    tracemalloc sees numpy's and Python's allocations (Pillow's own are not traced):
    the old whole-image float64 conversion peaked at 24 bytes a pixel.
    """
    import tracemalloc

    width, height = 2000, 1500
    if kind == "16-bit PNG":
        pixels = (np.arange(width * height, dtype=np.uint32) % 65536).astype(np.uint16).reshape(height, width)
        data = encoded(Image.fromarray(pixels), "PNG")
    else:
        pixels = np.linspace(0.0, 1.0, width * height, dtype=np.float32).reshape(height, width)
        data = encoded(Image.fromarray(pixels), "TIFF")
    tracemalloc.start()
    try:
        image = load_image(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert image.mode == "RGB" and image.size == (width, height)
    assert peak / (width * height) < 6, f"{peak / (width * height):.1f} bytes a pixel"


def test_big_endian_sixteen_bit_tiff_is_scaled_too() -> None:
    # Pillow's getextrema refuses this mode: the conversion must not lean on it.
    raw = np.full((48, 64), 32768, dtype=">u2").tobytes()
    data = encoded(Image.frombytes("I;16B", (64, 48), raw), "TIFF")
    assert load_image(data).getpixel((10, 10)) == (128, 128, 128)
