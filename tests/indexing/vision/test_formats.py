"""Only raster photos may be stored: pages, vector drawings and broken files are refused with a reason."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from indexing.vision.errors import ImageError
from indexing.vision.formats import identify_raster

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"><rect width="10" height="10"/></svg>'
HTML = b"<!doctype html><html><body><script>fetch('/admin/')</script></body></html>"
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"


def encoded(fmt: str, size: tuple[int, int] = (40, 30), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "red" if mode == "RGB" else 1).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fmt", "extension"),
    [("JPEG", ".jpg"), ("PNG", ".png"), ("WEBP", ".webp"), ("GIF", ".gif"), ("BMP", ".bmp"), ("TIFF", ".tif")],
)
def test_raster_photos_are_named_by_their_decoded_format(fmt: str, extension: str) -> None:
    info = identify_raster(encoded(fmt), name="upload.html")
    assert (info.format, info.extension, info.width, info.height) == (fmt, extension, 40, 30)


def test_a_real_photo_is_accepted(coco128_dir) -> None:
    photo = next((coco128_dir / "images" / "train2017").glob("*.jpg")).read_bytes()
    assert identify_raster(photo).extension == ".jpg"


@pytest.mark.parametrize(
    ("data", "name"),
    [(HTML, "page.jpg"), (SVG, "drawing.svg"), (EPS, "print.eps"), (b"GIF89a<script>", "fake.gif")],
)
def test_pages_drawings_and_impostors_are_refused(data: bytes, name: str) -> None:
    with pytest.raises(ImageError) as error:
        identify_raster(data, name=name)
    assert name in str(error.value)


def test_formats_pillow_reads_but_we_do_not_store_are_refused() -> None:
    # Pillow itself opens icons and Photoshop files; they are not photos to index and serve.
    with pytest.raises(ImageError, match="icon.ico"):
        identify_raster(encoded("ICO", (32, 32)), name="icon.ico")


def test_a_png_with_a_broken_checksum_is_refused() -> None:
    data = bytearray(encoded("PNG"))
    data[-20] ^= 0xFF  # inside the IDAT chunk: its CRC no longer matches
    with pytest.raises(ImageError, match="broken.png"):
        identify_raster(bytes(data), name="broken.png")


def test_empty_and_oversized_images_are_refused() -> None:
    with pytest.raises(ImageError, match="empty"):
        identify_raster(b"", name="nothing.jpg")
    with pytest.raises(ImageError, match="over the limit.*MAX_IMAGE_PIXELS"):
        identify_raster(encoded("PNG", (400, 300)), name="big.png", max_pixels=100_000)
