"""Mark indexing jobs whose worker or command died as stale; resume them with --resume."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from indexing.models import IndexingJob
from indexing.pipeline import recovery
from indexing.queue import IndexingUnavailable


class Command(BaseCommand):
    help = (
        "Mark queued or running jobs with no progress for INDEXING_JOB_STALE_SECONDS as stale, and list the "
        "stale ones. --resume sends their pending photos to the workers again (--here: in this process)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--resume", action="store_true", help="Resume every stale job.")
        parser.add_argument("--here", action="store_true", help="With --resume: index in this process.")

    def handle(self, *args, resume: bool, here: bool, **options) -> None:
        marked = recovery.mark_stale_jobs()
        stale = list(IndexingJob.objects.filter(status=IndexingJob.Status.STALE).select_related("dataset"))
        self.stdout.write(f"{marked} job(s) newly marked stale; {len(stale)} stale in all.")
        for job in stale:
            self.stdout.write(f"  job {job.pk} on {job.dataset}: {job.processed_images}/{job.total_images}")
        if not resume:
            return
        try:
            resumed = recovery.resume_stale_jobs(here=here)
        except IndexingUnavailable as exc:
            raise CommandError(str(exc)) from exc
        for job in resumed:
            self.stdout.write(f"Resumed job {job.pk}: {job.status}, {job.processed_images}/{job.total_images}.")
