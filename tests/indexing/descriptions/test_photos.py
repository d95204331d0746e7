"""Whole photos described in the run of their crops (DESCRIPTIONS_WHOLE_PHOTOS): once per photo and model."""

from __future__ import annotations

import base64
from io import BytesIO

import numpy as np
from django.core.files.base import ContentFile
from PIL import Image

from indexing.descriptions import runs
from indexing.models import Crop, Description, DescriptionRun
from indexing.vision.describe.remote import OpenAICompatible
from tests.factories import make_crop, make_dataset, make_image, png_bytes, unit_vectors


def two_photos() -> list:
    dataset = make_dataset("photos")
    images = [make_image(dataset, seed=1), make_image(dataset, seed=2)]
    crops = []
    for i, vector in enumerate(unit_vectors(3, seed=5)):
        crop = make_crop(images[min(i, 1)], vector, label="person")  # photo 1: one crop, photo 2: two
        crop.file.save(f"c{i}.png", ContentFile(png_bytes()), save=True)
        crops.append(crop)
    return images


def test_each_photo_is_described_once_with_its_crops(db, settings, stub_vlm):
    settings.DESCRIPTIONS_WHOLE_PHOTOS = True
    settings.DESCRIPTIONS_BATCH_SIZE = 2  # photo 2's crops fall in two steps: it is described in the first
    stub_vlm.answer = lambda prompt, has_image: "a wedding on a beach" if "this photo" in prompt else "a guest"
    images = two_photos()
    record = runs.run(Crop.objects.all())
    assert record.status == DescriptionRun.Status.DONE and record.described == 3, record.error
    photos = Description.objects.filter(image__isnull=False).order_by("image_id")
    assert [d.image_id for d in photos] == [im.pk for im in images]
    assert all(d.text == "a wedding on a beach" and d.prompt == OpenAICompatible.photo_prompt for d in photos)
    assert Description.objects.filter(crop__isnull=False).count() == 3
    assert len(stub_vlm.requests) == 5  # 3 crops + 2 photos, each asked once
    runs.run(Crop.objects.all())  # nothing left for this model: neither crops nor photos asked again
    assert len(stub_vlm.requests) == 5


def test_a_large_photo_is_sent_downscaled(db, settings, stub_vlm):
    settings.DESCRIPTIONS_WHOLE_PHOTOS = True
    image = make_image(make_dataset("big"))
    buffer = BytesIO()
    Image.fromarray(np.zeros((1500, 3000, 3), dtype=np.uint8)).save(buffer, format="PNG")
    image.file.save("big.png", ContentFile(buffer.getvalue()), save=True)
    crop = make_crop(image, unit_vectors(1)[0])
    crop.file.save("c.png", ContentFile(png_bytes()), save=True)
    runs.run(Crop.objects.all())
    sent = stub_vlm.requests[-1]["body"]["messages"][0]["content"][1]["image_url"]["url"]
    with Image.open(BytesIO(base64.b64decode(sent.split(",", 1)[1]))) as seen:
        assert max(seen.size) == runs.PHOTO_SIDE


def test_photos_are_left_alone_when_turned_off(db, settings, stub_vlm):
    settings.DESCRIPTIONS_WHOLE_PHOTOS = False
    two_photos()
    runs.run(Crop.objects.all())
    assert not Description.objects.filter(image__isnull=False).exists()
    assert len(stub_vlm.requests) == 3
