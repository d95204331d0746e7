"""Index a dataset folder: ingest, detect, crop, embed, store, then build the FAISS index."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from indexing.catalog import ingest
from indexing.catalog.guards import DatasetDeleting
from indexing.duplicates import hooks as duplicate_ingest
from indexing.models import IndexingJob
from indexing.pipeline import jobs
from indexing.pipeline.batch import BatchResult
from indexing.vision.errors import ModelLoadError


class Command(BaseCommand):
    help = (
        "Ingest the images of a dataset folder (e.g. datasets/coco_subset/version_1), detect and embed "
        "their objects, store the crops, and build a FAISS index. Safe to rerun: finished images are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset_path", "--dataset-path", dest="dataset_path", required=True, type=Path)
        parser.add_argument("--split", default="all", help="all, or one split folder name: train, val, test")
        parser.add_argument(
            "--faiss-gpu",
            "--faiss_gpu",
            dest="faiss_gpu",
            action="store_true",
            help="Build the FAISS index on GPU (needs faiss-gpu; falls back to CPU with a warning).",
        )
        parser.add_argument(
            "--batch-size",
            "--batch_size",
            dest="batch_size",
            type=int,
            default=None,
            help="Images per processing step (default INDEXING_BATCH_SIZE).",
        )
        parser.add_argument(
            "--index-kind",
            "--index_kind",
            dest="index_kind",
            default=None,
            help="FAISS index type (default: chosen by size, or ANN_INDEX_KIND).",
        )
        parser.add_argument("--no-index", action="store_true", help="Store crops but do not build a FAISS index.")

    def handle(
        self,
        *args,
        dataset_path: Path,
        split: str,
        faiss_gpu: bool,
        batch_size: int | None,
        index_kind: str | None,
        no_index: bool,
        **options,
    ) -> None:
        split_name = None if split == "all" else split
        try:
            dataset = ingest.dataset_for_path(dataset_path)
            files = ingest.dataset_image_files(dataset_path, split_name)
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        if not files:
            raise CommandError(f"No images found in {dataset_path} (split {split}).")
        self.stdout.write(f"Dataset {dataset} ({dataset_path}): {len(files)} image files, split {split}")

        try:
            with tqdm(total=len(files), desc="ingest", unit="img", disable=None) as bar:
                ingested = ingest.ingest_files(dataset, files, progress=bar)
            for path, reason in ingested.refused.items():
                self.stderr.write(f"Skipped {path}: {reason}")
            # A rerun with nothing to do (every `make demo` restart) records no job: the datasets page
            # lists work done, not "0/0 processed".
            if ingest.pending_image_ids(dataset, split_name):
                job, image_ids = jobs.create_job(dataset, split_name)
            else:
                job, image_ids = None, []
        except DatasetDeleting as exc:
            raise CommandError(str(exc)) from exc
        if job is None:
            self.stdout.write(f"Nothing new to index: all {len(files)} images are already processed.")
        elif not image_ids:  # another process took the pending photos meanwhile
            job = jobs.finish_job(job)
        else:
            job = self._process(job, image_ids, batch_size, ingested)

        if no_index:
            return
        build = jobs.after_job(job, index_kind=index_kind, use_gpu=faiss_gpu or None)
        if build is None:
            self.stdout.write("FAISS index is up to date; no rebuild needed.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Index build {build.pk}: {build.kind} over {build.size} crops."))

    def _process(self, job: IndexingJob, image_ids: list[int], batch_size: int | None, ingested) -> IndexingJob:
        self.stdout.write(
            f"{ingested.added} new image(s), {ingested.existing} already stored; {len(image_ids)} to process."
        )
        started = time.perf_counter()
        totals = {"crops": 0, "failed": 0}
        with tqdm(total=len(image_ids), desc="detect+embed", unit="img", disable=None) as bar:

            def progress(result: BatchResult, batch_len: int) -> None:
                totals["crops"] += result.crops
                totals["failed"] += result.failed
                bar.update(batch_len)
                bar.set_postfix(crops=totals["crops"], failed=totals["failed"])
                for image_id, error in result.failures.items():
                    tqdm.write(f"image {image_id} failed: {error}")

            try:
                job = jobs.run_job(job, image_ids, batch_size, progress)
            except ModelLoadError as exc:
                # A setup problem, not the photos': they stay pending for the next run (run_batch failed the job).
                raise CommandError(str(exc)) from exc
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"Processed {job.processed_images} image(s) in {seconds:.1f} s "
            f"({job.processed_images / max(seconds, 1e-9):.2f} img/s): {job.total_crops} crops, "
            f"{job.failed_images} failed."
        )
        dupes = duplicate_ingest.job_counts(job)
        self.stdout.write(
            f"Duplicates (DEDUP_ON_INGEST={settings.DEDUP_ON_INGEST}): {dupes['duplicates_skipped']} "
            f"near-duplicate(s) skipped, {dupes['duplicates_linked']} photo(s) in duplicate groups."
        )
        return job
