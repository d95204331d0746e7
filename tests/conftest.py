"""Shared fixtures: the offline assets in ../shared/assets (never copied here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

# Fixtures of one real training run, shared across modules (trained, served).
from tests.mlflow_run import served, trained  # noqa: F401


@pytest.fixture(scope="session")
def assets_dir() -> Path:
    path = Path(settings.SHARED_ASSETS_DIR)
    if not (path / "coco128").is_dir():
        pytest.fail(f"Offline assets not found at {path}; set SHARED_ASSETS_DIR to the shared/assets folder.")
    return path


@pytest.fixture(scope="session")
def coco128_dir(assets_dir: Path) -> Path:
    return assets_dir / "coco128"


@pytest.fixture(scope="session")
def yolov5n_weights(assets_dir: Path) -> Path:
    return assets_dir / "weights" / "yolov5n.pt"


@pytest.fixture(scope="session")
def media_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def media_through_the_app():
    """Media reach the project's own view (visualsearch/media.py), as with SERVE_MEDIA in production.

    Django's live server otherwise answers MEDIA_URL itself, with every file under
    MEDIA_ROOT, before any URL pattern sees the request.
    """
    from django.test import testcases

    saved = testcases._MediaFilesHandler
    testcases._MediaFilesHandler = lambda application: application
    yield
    testcases._MediaFilesHandler = saved


@pytest.fixture(scope="session")
def live_server(media_through_the_app, live_server):
    """pytest-django's live server, started after media_through_the_app."""
    return live_server


@pytest.fixture(scope="session")
def index_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("indexes")


@pytest.fixture(autouse=True)
def isolated_media(settings, media_root: Path, index_root: Path) -> None:
    """Uploaded and generated files (FAISS builds too) go to temporary folders, not var/."""
    settings.MEDIA_ROOT = media_root
    settings.INDEX_ROOT = index_root
    settings.INDEX_CACHE_DIR = index_root / "host-cache"


@pytest.fixture(autouse=True)
def no_searches_counted() -> None:
    """Each test starts with no searches counted against its client by the search throttle."""
    from django.core.cache import cache

    cache.clear()


# COCO128 images holding objects of the product's classes, and few enough to index in seconds.
SUBSET_SIZE = 12


@pytest.fixture(scope="session")
def coco_subset_files(coco128_dir: Path) -> list[Path]:
    """The first COCO128 images whose labels include one of the product's classes."""
    import yaml

    names = yaml.safe_load((coco128_dir / "data.yaml").read_text())["names"]
    names = names if isinstance(names, list) else [names[i] for i in sorted(names)]
    wanted = {i for i, name in enumerate(names) if name in settings.DETECTOR_CLASSES}
    chosen = []
    for label_file in sorted((coco128_dir / "labels" / "train2017").glob("*.txt")):
        ids = {int(line.split()[0]) for line in label_file.read_text().splitlines() if line.strip()}
        if ids & wanted:
            chosen.append(coco128_dir / "images" / "train2017" / f"{label_file.stem}.jpg")
        if len(chosen) == SUBSET_SIZE:
            return chosen
    raise AssertionError("COCO128 has fewer images of the product's classes than expected")


@pytest.fixture(scope="session")
def test_clip_dir(tmp_path_factory) -> Path:
    from django.core.management import call_command

    path = tmp_path_factory.mktemp("clip") / "test-clip"
    call_command("make_test_clip", str(path))
    return path


@pytest.fixture(scope="session")
def test_owlvit_dir(tmp_path_factory) -> Path:
    """A tiny random OWL-ViT (open-vocabulary detector): real classes, meaningless boxes."""
    from django.core.management import call_command

    path = tmp_path_factory.mktemp("owlvit") / "test-owlvit"
    call_command("make_test_owlvit", str(path))
    return path


OPEN_VOCABULARY = ["backpack", "traffic cone", "coffee mug"]


@pytest.fixture
def open_vocabulary_models(settings, test_owlvit_dir: Path, test_clip_dir: Path):
    """The served detector is the test OWL-ViT with a three-word vocabulary, scoring every box (confidence 0)."""
    from indexing.vision.detector import reset_detector
    from indexing.vision.embedder import reset_embedder

    settings.DETECTOR_WEIGHTS = str(test_owlvit_dir)
    settings.DETECTOR_CLASSES = list(OPEN_VOCABULARY)
    settings.OPEN_VOCABULARY_CONFIDENCE = 0.0  # random weights: a low bar, so every photo has boxes
    settings.CLIP_MODEL = str(test_clip_dir)
    reset_detector()
    reset_embedder()
    yield
    reset_detector()
    reset_embedder()


@pytest.fixture(scope="session")
def test_text_encoder_dir(tmp_path_factory, test_clip_dir: Path) -> Path:
    """A tiny random multilingual text encoder, recorded as aligned to the test CLIP (its exact version)."""
    from django.core.management import call_command

    from indexing.vision.embedder import Embedder

    path = tmp_path_factory.mktemp("text-encoder") / "test-text-encoder"
    call_command("make_test_text_encoder", str(path), aligned_to=Embedder(test_clip_dir, device="cpu").version)
    return path


@pytest.fixture
def multilingual_queries(settings, real_models, test_text_encoder_dir: Path):
    """Text queries embedded by the test multilingual encoder, beside the test CLIP."""
    from indexing.vision.text_encoder import reset_text_encoders

    settings.TEXT_ENCODER = str(test_text_encoder_dir)
    reset_text_encoders()
    yield test_text_encoder_dir
    reset_text_encoders()


@pytest.fixture
def real_models(settings, yolov5n_weights: Path, test_clip_dir: Path):
    """Point the settings at the real yolov5n.pt and the test CLIP, in this process."""
    from indexing.vision.detector import reset_detector
    from indexing.vision.embedder import reset_embedder

    settings.DETECTOR_WEIGHTS = str(yolov5n_weights)
    settings.CLIP_MODEL = str(test_clip_dir)
    reset_detector()
    reset_embedder()
    yield
    reset_detector()
    reset_embedder()


@pytest.fixture
def reachable_sources(monkeypatch) -> None:
    """Download hosts "answer" the pre-download check; the fetch itself is the test's own stand-in."""
    from indexing.vision.weights import downloads

    monkeypatch.setattr(downloads, "_reason_unreachable", lambda url: "")


@pytest.fixture
def fresh_index_holder(settings):
    """The served index is looked up on every search (no 10 s between checks), from a clean holder."""
    from search.query.index_cache import index_holder

    settings.SEARCH_INDEX_CHECK_SECONDS = 0
    index_holder.reset()
    yield
    index_holder.reset()


@pytest.fixture
def own_storage(settings, tmp_path) -> dict[str, str]:
    """Media and index folders of this test alone, so check_consistency sees only its files.

    Returns them as environment variables, for a worker of the test to use the same.
    """
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.INDEX_ROOT = tmp_path / "indexes"
    return {"MEDIA_ROOT": str(settings.MEDIA_ROOT), "INDEX_ROOT": str(settings.INDEX_ROOT)}
