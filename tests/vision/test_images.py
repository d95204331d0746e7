"""What users upload: odd modes load as RGB the models accept; broken files are refused clearly."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from indexing.vision.errors import ImageError
from indexing.vision.images import load_image, sha256_of


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
    assert sha256_of(jpeg_bytes) == sha256_of(coco_image_paths[13].read_bytes())


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
