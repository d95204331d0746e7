"""Crops with files, a tiny random BLIP, and the describer settings pointed at them or at a stub endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from indexing.vision.describe import reset_describers
from tests.factories import make_crop, make_dataset, make_image, png_bytes, unit_vectors
from tests.vlm_stub import running_stub


@pytest.fixture(scope="session")
def tiny_blip_dir(tmp_path_factory) -> Path:
    from django.core.management import call_command

    path = tmp_path_factory.mktemp("blip") / "test-blip"
    call_command("make_test_blip", str(path))
    return path


@pytest.fixture(autouse=True)
def fresh_describers(settings):
    settings.DESCRIPTIONS_WHOLE_PHOTOS = False  # the crops alone, unless a test turns the photos on (test_photos)
    reset_describers()
    yield
    reset_describers()


@pytest.fixture
def local_blip(settings, tiny_blip_dir: Path) -> Path:
    settings.DESCRIPTIONS_BACKEND = "local"
    settings.DESCRIPTIONS_MODEL = str(tiny_blip_dir)
    settings.DESCRIPTIONS_MAX_TOKENS = 8
    return tiny_blip_dir


@pytest.fixture
def stub_vlm(settings):
    with running_stub() as stub:
        settings.DESCRIPTIONS_BACKEND = "openai"
        settings.DESCRIPTIONS_MODEL = "stub-vlm"
        settings.DESCRIPTIONS_API_URL = stub.url
        settings.DESCRIPTIONS_API_KEY = "sk-test"
        settings.DESCRIPTIONS_TIMEOUT_SECONDS = 5.0
        yield stub


def crops_with_files(count: int, labels=("person", "car")) -> list:
    """``count`` crops of one dataset, each with a small PNG file, labels taking turns."""
    dataset = make_dataset("described")
    vectors = unit_vectors(count, seed=3)
    crops = []
    for i in range(count):
        crop = make_crop(make_image(dataset, seed=i), vectors[i], label=labels[i % len(labels)])
        crop.file.save(f"crop{i}.png", ContentFile(png_bytes(color=(20 * i % 256, 90, 40))), save=True)
        crops.append(crop)
    return crops
