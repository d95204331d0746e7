"""The README's screenshot command: the picture stays small enough to commit."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from visualsearch.management.commands.screenshot import MAX_PNG_BYTES, small_png


def test_a_results_page_is_saved_as_a_palette_png_under_the_limit(coco_subset_files: list[Path]):
    # What the results page holds: a query photo and two rows of crops, on a flat background.
    page = Image.new("RGB", (1100, 1230), (247, 248, 250))
    page.paste(Image.open(coco_subset_files[0]).convert("RGB").resize((640, 430)), (20, 130))
    for i, path in enumerate(coco_subset_files[1:13]):
        page.paste(Image.open(path).convert("RGB").resize((130, 130)), (20 + (i % 6) * 150, 700 + (i // 6) * 280))
    raw = io.BytesIO()
    page.save(raw, "PNG")
    assert raw.tell() > MAX_PNG_BYTES  # the screenshot as taken would be too big to commit

    small = small_png(raw.getvalue())
    assert len(small) <= MAX_PNG_BYTES
    image = Image.open(io.BytesIO(small))
    assert image.size == (1100, 1230) and image.mode == "P"
