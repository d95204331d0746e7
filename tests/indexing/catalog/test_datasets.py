"""extract_coco_subset on the real COCO128 annotations."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import CommandError, call_command

from indexing.catalog.datasets import DatasetError, extract_coco_subset
from indexing.models import Dataset

pytestmark = pytest.mark.django_db

CLASSES = list(settings.DETECTOR_CLASSES)


@pytest.fixture(scope="module")
def coco(coco128_dir: Path) -> dict:
    return json.loads((coco128_dir / "annotations" / "instances_train2017.json").read_text())


def run_extract(coco128_dir: Path, out: Path, **kwargs) -> object:
    return extract_coco_subset(
        annotations=coco128_dir / "annotations" / "instances_train2017.json",
        images_dir=coco128_dir / "images" / "train2017",
        out_dir=out,
        **kwargs,
    )


def run_command(coco128_dir: Path, out: Path, *args: str) -> None:
    """The extract_coco_subset command, as a user types it, on COCO128."""
    call_command(
        "extract_coco_subset",
        "--annotations", str(coco128_dir / "annotations" / "instances_train2017.json"),
        "--images", str(coco128_dir / "images" / "train2017"),
        "--out", str(out),
        *args,
    )  # fmt: skip


def expected_boxes(coco: dict) -> tuple[Counter, set[int], Counter]:
    """Non-crowd boxes per class name, images holding one, and crowd boxes per image, straight from the json."""
    names = {c["id"]: c["name"] for c in coco["categories"]}
    per_class, images, crowd_per_image = Counter(), set(), Counter()
    for ann in coco["annotations"]:
        name = names[ann["category_id"]]
        if name not in CLASSES:
            continue
        if ann["iscrowd"]:
            crowd_per_image[ann["image_id"]] += 1
        else:
            per_class[name] += 1
            images.add(ann["image_id"])
    return per_class, images, crowd_per_image


def label_lines(out: Path) -> dict[str, list[list[float]]]:
    return {
        f"{p.parent.name}/{p.stem}": [[float(v) for v in line.split()] for line in p.read_text().splitlines()]
        for p in sorted(out.glob("labels/*/*.txt"))
    }


def split_listing(out: Path) -> dict[str, list[str]]:
    return {split: sorted(p.name for p in (out / "images" / split).iterdir()) for split in ("train", "val", "test")}


def test_counts_per_class_match_the_annotations(coco128_dir: Path, coco: dict, tmp_path: Path) -> None:
    out = tmp_path / "coco_subset" / "version_1"
    result = run_extract(coco128_dir, out)

    per_class, images, _ = expected_boxes(coco)
    assert result.manifest["counts"]["per_class"] == {name: per_class[name] for name in CLASSES}
    assert result.manifest["counts"]["images"] == len(images)
    lines = label_lines(out)
    on_disk = Counter(CLASSES[int(row[0])] for rows in lines.values() for row in rows)
    assert on_disk == per_class
    assert sum(len(v) for v in split_listing(out).values()) == len(images) == len(lines)
    # The README's published counts for the seven classes.
    assert per_class == {
        "person": 254, "car": 46, "book": 29, "handbag": 19, "cell phone": 8, "sports ball": 6, "laptop": 3,
    }  # fmt: skip


def test_crowd_annotations_are_skipped(coco128_dir: Path, coco: dict, tmp_path: Path) -> None:
    out = tmp_path / "coco_subset" / "version_1"
    result = run_extract(coco128_dir, out)

    _, _, crowd_per_image = expected_boxes(coco)
    assert crowd_per_image, "COCO128 has crowd annotations of the product classes"
    assert result.manifest["counts"]["skipped_annotations"]["crowd"] == sum(crowd_per_image.values())
    lines = label_lines(out)
    names = {c["id"]: c["name"] for c in coco["categories"]}
    for image_id in crowd_per_image:
        non_crowd = sum(
            1
            for a in coco["annotations"]
            if a["image_id"] == image_id and not a["iscrowd"] and names[a["category_id"]] in CLASSES
        )
        written = sum(len(rows) for key, rows in lines.items() if key.endswith(f"{image_id:012d}"))
        assert written == non_crowd


def test_labels_are_in_range_and_normalized(coco128_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "coco_subset" / "version_1"
    run_extract(coco128_dir, out)
    for rows in label_lines(out).values():
        assert rows
        for class_id, cx, cy, w, h in rows:
            assert class_id == int(class_id) and 0 <= class_id < len(CLASSES)
            assert 0 < w <= 1 and 0 < h <= 1
            assert cx - w / 2 + 1e-6 >= 0 and cx + w / 2 <= 1 + 1e-6
            assert cy - h / 2 + 1e-6 >= 0 and cy + h / 2 <= 1 + 1e-6


def test_same_seed_gives_the_same_split(coco128_dir: Path, tmp_path: Path) -> None:
    a = tmp_path / "a" / "version_1"
    b = tmp_path / "b" / "version_1"
    c = tmp_path / "c" / "version_1"
    run_extract(coco128_dir, a, seed=7)
    run_extract(coco128_dir, b, seed=7)
    run_extract(coco128_dir, c, seed=8)
    assert split_listing(a) == split_listing(b)
    assert label_lines(a) == label_lines(b)
    assert split_listing(a) != split_listing(c)
    counts = {split: len(files) for split, files in split_listing(a).items()}
    total = sum(counts.values())
    assert counts["train"] == round(total * 0.8)
    assert counts["val"] == round(total * 0.1)


def test_refuses_to_overwrite_a_version(coco128_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "coco_subset" / "version_1"
    run_extract(coco128_dir, out)
    before = split_listing(out)
    with pytest.raises(CommandError, match="already exists"):
        run_command(coco128_dir, out, "--seed", "3")
    assert split_listing(out) == before
    assert Dataset.objects.filter(name="coco_subset", version="version_1").count() == 1


def test_data_yaml_and_dataset_row(coco128_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "coco_subset" / "version_3"
    run_command(coco128_dir, out, "--split", "0.7,0.3,0", "--max-images", "20", "--copy")
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["nc"] == len(CLASSES)
    assert list(data["names"].values()) == CLASSES
    root = Path(data["path"])
    assert len(list((root / data["train"]).glob("*.jpg"))) == 14
    assert len(list((root / data["val"]).glob("*.jpg"))) == 6
    assert not list((root / data["test"]).iterdir())
    assert not any(p.is_symlink() for p in out.glob("images/*/*.jpg"))

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 0 and manifest["classes"] == CLASSES
    assert manifest["split"] == {"train": 0.7, "val": 0.3, "test": 0.0}
    assert manifest["counts"]["per_split"]["val"]["images"] == 6
    assert manifest["created"]

    row = Dataset.objects.get(name="coco_subset", version="version_3")
    assert row.split_names == ["train", "val", "test"]
    assert Path(row.root_path) == out.resolve()
    assert row.source.endswith("instances_train2017.json")
    assert "20 images" in row.notes


def test_no_matching_images_is_an_error(coco128_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="No image"):
        run_extract(coco128_dir, tmp_path / "x" / "version_1", classes=["hair drier"])


def test_missing_images_are_reported_not_half_written(coco128_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "coco_subset" / "version_1"
    empty = tmp_path / "no_images"
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"\d+ of \d+ images are missing"):
        extract_coco_subset(coco128_dir / "annotations" / "instances_train2017.json", empty, out)
    assert not out.exists()
    assert not Dataset.objects.exists()


class FlakyImageServer(BaseHTTPRequestHandler):
    """Serves one JPEG, answering 503 to the first request: the downloader must retry."""

    body = b""
    requests = 0

    def do_GET(self) -> None:
        type(self).requests += 1
        if type(self).requests == 1:
            self.send_error(503)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.usefixtures("reachable_sources")
def test_download_fetches_missing_images_with_retries(
    coco128_dir: Path, coco: dict, tmp_path: Path, monkeypatch
) -> None:
    import indexing.catalog.sources as sources

    _, with_classes, _ = expected_boxes(coco)
    image = next(img for img in coco["images"] if img["id"] == min(with_classes))
    FlakyImageServer.body = (coco128_dir / "images" / "train2017" / image["file_name"]).read_bytes()
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyImageServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fetched = []
    fetch_image = sources.fetch_image

    def to_local_server(session, url, dest, timeout):
        # No network here: the checked https URL is recorded, the bytes come from the flaky local server.
        fetched.append(url)
        fetch_image(session, f"http://127.0.0.1:{server.server_port}/x.jpg", dest, timeout)

    monkeypatch.setattr(sources, "fetch_image", to_local_server)
    try:
        coco_url = f"http://images.cocodataset.org/train2017/{image['file_name']}"
        local = {**coco, "images": [{**image, "coco_url": coco_url}]}
        annotations = tmp_path / "one.json"
        annotations.write_text(json.dumps(local))
        images_dir = tmp_path / "downloaded"
        result = extract_coco_subset(
            annotations, images_dir, tmp_path / "one" / "version_1", split=(1.0, 0.0, 0.0), download=True
        )
    finally:
        server.shutdown()
    assert fetched == [f"https://s3.amazonaws.com/images.cocodataset.org/train2017/{image['file_name']}"]
    assert FlakyImageServer.requests == 2
    assert (images_dir / image["file_name"]).read_bytes() == FlakyImageServer.body
    assert result.manifest["counts"]["images"] == 1
