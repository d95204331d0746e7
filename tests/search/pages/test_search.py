"""The server-rendered pages: home, results, crop detail, datasets, and their error states."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from indexing.catalog.selectors import DATASETS_PER_PAGE, RECENT_JOBS_PER_DATASET
from indexing.models import Crop, IndexingJob, SourceImage
from tests.factories import make_crop, make_dataset, make_image, unit_vectors


def test_home_has_both_search_modes(client, db):
    body = client.get("/").content.decode()
    assert 'name="image"' in body and 'name="q"' in body
    for label in ("person", "sports ball"):
        assert label in body


def test_text_search_page_lists_results(client, indexed):
    response = client.get("/search", {"q": "a person", "mode": "text", "k": 5})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('class="result"') == 5
    assert "/crops/" in body


def test_image_search_page_draws_boxes_and_groups_results(client, indexed):
    path = indexed[0]
    source = SourceImage.objects.get(original_name=path.name)
    upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")
    response = client.post("/search", {"image": upload, "mode": "image", "k": 3})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('class="box pick"') == source.crops.count()  # each one clickable: query by region
    assert body.count('class="object"') == source.crops.count()
    assert "data:image/jpeg;base64," in body


def test_crop_page_shows_source_photo_and_more_like_this(client, indexed):
    crop = Crop.objects.first()
    body = client.get(f"/crops/{crop.pk}").content.decode()
    assert crop.label in body
    assert 'class="box"' in body
    assert "More like this" in body and body.count('class="result"') >= 1


def test_datasets_page_shows_counts_and_job_progress(client, indexed):
    body = client.get("/datasets").content.decode()
    assert f"{len(indexed)} photos" in body
    assert "<progress" in body


@pytest.mark.parametrize(
    ("request_args", "message"),
    [
        ({"path": "/search", "data": {"q": "  ", "mode": "text"}}, "Type a few words"),
        ({"path": "/search", "data": {"q": "car", "k": "lots", "mode": "text"}}, "whole number"),
    ],
)
def test_bad_text_search_says_what_is_wrong(client, db, real_models, request_args, message):
    response = client.get(request_args["path"], request_args["data"])
    assert response.status_code == 400
    assert message in response.content.decode()


def test_bad_upload_says_what_is_wrong(client, db, real_models):
    upload = SimpleUploadedFile("notes.jpg", b"these are my notes", content_type="image/jpeg")
    response = client.post("/search", {"image": upload, "mode": "image"})
    assert response.status_code == 400
    assert "not an image" in response.content.decode()
    response = client.post("/search", {"mode": "image"})
    assert "Choose a photo" in response.content.decode()


def test_missing_crop_is_a_404_page(client, db):
    assert client.get("/crops/999999").status_code == 404


def test_empty_site_pages_speak_plainly(client, db):
    assert "No datasets yet" in client.get("/datasets").content.decode()


def test_results_page_filters_by_min_score_and_groups_by_photo(client, indexed):
    everything = client.get("/search", {"q": "a person", "k": 20}).content.decode()
    scores = sorted(float(s) for s in re.findall(r'class="score" title="cosine similarity">([-0-9.]+)<', everything))
    assert len(scores) >= 4
    floor = scores[len(scores) // 2]
    above = client.get("/search", {"q": "a person", "k": 20, "min_score": floor}).content.decode()
    kept = [float(s) for s in re.findall(r'class="score" title="cosine similarity">([-0-9.]+)<', above)]
    assert 0 < len(kept) < len(scores) and min(kept) >= floor - 0.001
    grouped = client.get("/search", {"q": "a person", "k": 20, "group": "1"}).content.decode()
    photo_ids = re.findall(r'class="photo-group" data-image-id="(\d+)"', grouped)
    assert len(photo_ids) == len(set(photo_ids)) > 1  # each photo once, its crops together
    assert grouped.count('class="result"') == len(scores)


def test_text_results_page_links_to_the_next_page(client, indexed):
    first = client.get("/search", {"q": "a person", "k": 3}).content.decode()
    next_url = re.search(r'href="(\?[^"]+)" id="next-page"', first).group(1).replace("&amp;", "&")
    assert "offset=3" in next_url
    second = client.get("/search" + next_url).content.decode()
    ids = lambda body: set(re.findall(r'href="/crops/(\d+)(?:\?q=[^"]*)?"', body))  # noqa: E731 (?q=: "why")
    assert ids(first) and ids(second) and not ids(first) & ids(second)
    assert 'id="previous-page"' in second


def test_region_and_photo_queries_on_the_results_page(client, indexed):
    path = indexed[0]
    upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")
    body = client.post("/search", {"image": upload, "mode": "image", "box": "0,0,200,200"}).content.decode()
    assert "The region 0,0,200,200" in body and 'class="box region"' in body
    upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")
    bad = client.post("/search", {"image": upload, "mode": "image", "box": "200,0,100,100"})
    assert bad.status_code == 400 and "inverted" in bad.content.decode()
    upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")
    photos = client.post("/search", {"image": upload, "mode": "image", "find": "photos_any"}).content.decode()
    source = SourceImage.objects.get(original_name=path.name)
    assert re.findall(r'class="photo-result" data-image-id="(\d+)"', photos)[0] == str(source.pk)


def datasets_shown(body: str) -> list[str]:
    return re.findall(r'<section class="dataset">\s*<h2>(\S+) <small>', body)


def test_datasets_page_reads_a_page_of_datasets_in_a_fixed_number_of_queries(client, db, settings):
    settings.SEARCH_THROTTLE_RATE = "100000/min"
    busy = make_dataset("d00")
    images = [make_image(busy, seed) for seed in range(3)]
    SourceImage.objects.filter(pk=images[0].pk).update(status=SourceImage.Status.DONE)
    SourceImage.objects.filter(pk=images[1].pk).update(status=SourceImage.Status.FAILED)
    for vector in unit_vectors(2):
        make_crop(images[0], vector)
    jobs = [IndexingJob.objects.create(dataset=busy, total_images=3) for _ in range(7)]
    make_dataset("d01")
    make_dataset("d02")
    client.get("/datasets")  # the stale check writes at most once per interval: done before both counts

    with CaptureQueriesContext(connection) as few:
        body = client.get("/datasets").content.decode()
    assert datasets_shown(body) == ["d00", "d01", "d02"]
    assert "3 photos · 1 indexed · 1 failed · 2 objects" in body
    shown_jobs = [int(pk) for pk in re.findall(r'id="job-(\d+)"', body)]
    assert shown_jobs == [job.pk for job in reversed(jobs)][:RECENT_JOBS_PER_DATASET]  # the five newest
    assert 'rel="next"' not in body

    for i in range(3, 3 + DATASETS_PER_PAGE):
        dataset = make_dataset(f"d{i:02d}")
        IndexingJob.objects.create(dataset=dataset)
        make_crop(make_image(dataset, 100 + i), unit_vectors(1, seed=i)[0])
    with CaptureQueriesContext(connection) as many:
        body = client.get("/datasets").content.decode()
    # 23 datasets, one page of 20: as many queries as for 3, whatever the collection holds.
    assert len(many.captured_queries) == len(few.captured_queries), [q["sql"][:120] for q in many.captured_queries]
    assert datasets_shown(body) == [f"d{i:02d}" for i in range(DATASETS_PER_PAGE)]
    assert 'href="?page=2" rel="next"' in body and "Page 1 of 2 (23 datasets)" in body
    second = client.get("/datasets", {"page": 2}).content.decode()
    assert datasets_shown(second) == ["d20", "d21", "d22"]
    assert "1 photos · 0 indexed · 0 failed · 1 objects" in second
    assert datasets_shown(client.get("/datasets", {"page": "x"}).content.decode())[0] == "d00"  # not a number: first
    assert datasets_shown(client.get("/datasets", {"page": 99}).content.decode()) == ["d20", "d21", "d22"]
