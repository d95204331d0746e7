"""Crop geometry: properties over any box on any image size."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from indexing.vision.crops import CropPolicy, crop_box, crop_image


@st.composite
def box_on_image(draw) -> tuple[tuple[float, float, float, float], tuple[int, int]]:
    width = draw(st.integers(1, 6000))
    height = draw(st.integers(1, 6000))
    xs = sorted(draw(st.lists(st.floats(0, width), min_size=2, max_size=2, unique=True)))
    ys = sorted(draw(st.lists(st.floats(0, height), min_size=2, max_size=2, unique=True)))
    return (xs[0], ys[0], xs[1], ys[1]), (width, height)


policies = st.builds(
    CropPolicy,
    padding=st.floats(0, 1),
    min_side=st.integers(1, 64),
    max_aspect=st.floats(1, 10),
    min_area_fraction=st.floats(0, 0.05),
)


@given(box_on_image(), policies)
def test_crop_is_inside_nonempty_and_obeys_policy(case, policy) -> None:
    box, (width, height) = case
    result = crop_box(box, (width, height), policy)
    # The padded box, rounded outward and clamped: what the policy's rules are judged on.
    pad_x, pad_y = (box[2] - box[0]) * policy.padding, (box[3] - box[1]) * policy.padding
    padded_w = min(width, math.ceil(box[2] + pad_x)) - max(0, math.floor(box[0] - pad_x))
    padded_h = min(height, math.ceil(box[3] + pad_y)) - max(0, math.floor(box[1] - pad_y))
    breaks = {
        "min_side": min(padded_w, padded_h) < policy.min_side,
        "max_aspect": max(padded_w, padded_h) / min(padded_w, padded_h) > policy.max_aspect,
        "min_area_fraction": padded_w * padded_h < policy.min_area_fraction * width * height,
    }
    if result is None:
        # A crop is rejected only for breaking one of the policy's rules.
        assert any(breaks.values()), (padded_w, padded_h, breaks)
        return
    assert not any(breaks.values()), breaks
    left, top, right, bottom = result
    assert all(isinstance(v, int) for v in result)
    assert 0 <= left < right <= width and 0 <= top < bottom <= height
    assert (right - left, bottom - top) == (padded_w, padded_h)
    crop_w, crop_h = right - left, bottom - top
    assert min(crop_w, crop_h) >= policy.min_side
    assert max(crop_w, crop_h) / min(crop_w, crop_h) <= policy.max_aspect
    assert crop_w * crop_h >= policy.min_area_fraction * width * height
    # The detection itself, rounded outward, is always inside the crop.
    assert left <= math.floor(box[0]) and top <= math.floor(box[1])
    assert right >= math.ceil(box[2]) and bottom >= math.ceil(box[3])


@given(box_on_image(), st.floats(0, 1))
def test_permissive_policy_always_gives_a_crop_with_the_padding(case, padding) -> None:
    box, size = case
    policy = CropPolicy(padding=padding, min_side=1, max_aspect=math.inf, min_area_fraction=0)
    left, top, right, bottom = crop_box(box, size, policy)
    pad_x, pad_y = (box[2] - box[0]) * padding, (box[3] - box[1]) * padding
    assert left == max(0, math.floor(box[0] - pad_x)) and right == min(size[0], math.ceil(box[2] + pad_x))
    assert top == max(0, math.floor(box[1] - pad_y)) and bottom == min(size[1], math.ceil(box[3] + pad_y))


def test_filters_reject_small_thin_and_tiny_crops() -> None:
    policy = CropPolicy(padding=0.0, min_side=32, max_aspect=4.0, min_area_fraction=0.01)
    assert crop_box((10, 10, 40, 100), (1000, 1000), policy) is None  # 30 px wide
    assert crop_box((0, 0, 500, 100), (1000, 1000), policy) is None  # 5:1
    assert crop_box((0, 0, 90, 90), (1000, 1000), policy) is None  # 0.8 % of the image
    assert crop_box((0, 0, 120, 100), (1000, 1000), policy) == (0, 0, 120, 100)


def test_padding_is_clamped_at_the_image_edge() -> None:
    policy = CropPolicy(padding=0.5, min_side=1, max_aspect=10, min_area_fraction=0)
    assert crop_box((0, 10, 100, 110), (120, 200), policy) == (0, 0, 120, 160)


def test_from_settings_reads_the_crop_settings(settings) -> None:
    settings.CROP_PADDING, settings.CROP_MIN_SIDE = 0.2, 16
    settings.CROP_MAX_ASPECT, settings.CROP_MIN_AREA_FRACTION = 3.0, 0.002
    assert CropPolicy.from_settings() == CropPolicy(0.2, 16, 3.0, 0.002)


def test_crop_image_returns_the_pixels() -> None:
    image = Image.new("RGB", (100, 80), (0, 0, 0))
    image.putpixel((50, 40), (255, 0, 0))
    crop = crop_image(image, (40, 30, 60, 50))
    assert crop.size == (20, 20) and crop.getpixel((10, 10)) == (255, 0, 0)
