"""Dataset deletion and the consistency check, timed over a throw-away dataset of real rows and files.

A dataset of ``--photos`` photos with ``--crops`` crops each is written (rows in the
database, small JPEG files in a temporary MEDIA_ROOT, a FAISS build over them beside
the crops already there), then the script times
- check_consistency over it (files listed, rows read, the served build's ids read),
- run_deletion (photos a second, including the new FAISS build at the end).

    .venv/bin/python bench/lifecycle.py [--photos 2000] [--crops 4]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import tempfile
import time

import numpy as np
from lib.setup import peak_rss_mb, setup_django

setup_django()

from django.core.files.storage import default_storage  # noqa: E402
from django.test import override_settings  # noqa: E402
from PIL import Image  # noqa: E402

from indexing.ann import builds  # noqa: E402
from indexing.catalog import deletion  # noqa: E402
from indexing.catalog.consistency import check_consistency  # noqa: E402
from indexing.models import Crop, Dataset, IndexBuild, SourceImage, crop_file_name  # noqa: E402


def jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (seed % 256, seed // 256 % 256, 7)).save(buffer, format="JPEG")
    return buffer.getvalue()


def write_dataset(photos: int, crops: int) -> Dataset:
    dataset = Dataset.objects.create(name=f"bench-lifecycle-{time.time_ns()}", version="version_1")
    rng = np.random.default_rng(0)
    for start in range(0, photos, 500):
        images, rows = [], []
        for number in range(start, min(start + 500, photos)):
            data = jpeg(number)
            sha = hashlib.sha256(data + str(number).encode()).hexdigest()
            name = f"images/{dataset.pk}/{sha[:2]}/{sha}.jpg"
            default_storage.save(name, io.BytesIO(data))
            images.append(SourceImage(dataset=dataset, file=name, sha256=sha, status="done", width=64, height=48))
        SourceImage.objects.bulk_create(images)
        for image in images:
            vectors = rng.standard_normal((crops, 512)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            for index, vector in enumerate(vectors):
                name = default_storage.save(crop_file_name(image, index), io.BytesIO(jpeg(index)))
                rows.append(
                    Crop(image=image, label="person", confidence=0.9, x1=0, y1=0, x2=10, y2=10, file=name,
                         embedding=vector, detector_version="bench", embedder_version="bench")
                )  # fmt: skip
        Crop.objects.bulk_create(rows)
    return dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--crops", type=int, default=4)
    args = parser.parse_args()
    first_new_build = (IndexBuild.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    with (
        tempfile.TemporaryDirectory() as media,
        tempfile.TemporaryDirectory() as indexes,
        override_settings(MEDIA_ROOT=media, INDEX_ROOT=indexes),
    ):
        try:
            started = time.perf_counter()
            dataset = write_dataset(args.photos, args.crops)
            builds.publish_build()
            print(f"wrote {args.photos} photos, {args.photos * args.crops} crops and a build in "
                  f"{time.perf_counter() - started:.1f} s")  # fmt: skip
            started = time.perf_counter()
            report = check_consistency()
            seconds = time.perf_counter() - started
            files = args.photos * (1 + args.crops)
            print(
                f"check_consistency: {seconds:.2f} s for {files} files ({files / seconds:,.0f} files/s), ok={report.ok}"
            )
            started = time.perf_counter()
            deleted = deletion.run_deletion(dataset_id=dataset.pk)
            seconds = time.perf_counter() - started
            rate = deleted / seconds
            print(f"run_deletion: {deleted} photos in {seconds:.2f} s ({rate:,.0f} photos/s, rebuild included)")
            print(f"peak RSS {peak_rss_mb():.0f} MB")
        finally:
            # The builds' files were temporary: their rows go too, the served build before them stays.
            IndexBuild.objects.filter(pk__gte=first_new_build).delete()
            Dataset.objects.filter(name__startswith="bench-lifecycle-").delete()  # after a crash halfway


if __name__ == "__main__":
    main()
