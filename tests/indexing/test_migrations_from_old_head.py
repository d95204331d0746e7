"""A database made by the code before the house's second step migrates with today's code, data untouched.

The step moved every model into ``indexing/models/`` (one module per family) and the
services into subpackages. Tables, app label, content types and permissions must not
move with them: a deployed database, its rows and the permissions its groups hold, keep
working with no migration. This test makes such a database with the old code itself
(``git archive`` of OLD_HEAD, run in a subprocess against a database of its own), fills
it through the old models, then runs today's ``migrate`` and reads everything back.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# The last commit of main before the subpackages (issue 22): its migrations made every deployed database.
OLD_HEAD = "b06054dd6f329bac90ff435b9b50a73aa79913c0"
DATABASE = f"vs_old_head_{os.getpid()}"
OLD_HEAD_LAST = 8  # indexing's last migration at OLD_HEAD (0008_build_recall)

FILL = """
import json
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from indexing.models import Crop, Dataset, DuplicateGroup, DuplicateMember, IndexingJob, ModelChange, SourceImage
dataset = Dataset.objects.create(name="kept", version="v1")
image = SourceImage.objects.create(dataset=dataset, sha256="a" * 64, file="images/1/a.jpg", width=64, height=48)
twin = SourceImage.objects.create(dataset=dataset, sha256="b" * 64, file="images/1/b.jpg", width=64, height=48)
crop = Crop.objects.create(image=image, label="dog", confidence=0.9, x1=1, y1=2, x2=30, y2=40,
                           embedding=[1.0] + [0.0] * 511, embedder_version="clip@1", detector_version="yolo@1")
group = DuplicateGroup.objects.create()
DuplicateMember.objects.create(group=group, image=image, tier="exact", score=1.0)
DuplicateMember.objects.create(group=group, image=twin, tier="exact", score=1.0)
IndexingJob.objects.create(dataset=dataset, total_images=2)
ModelChange.objects.create(kind="embedder", source="clip-2", version="clip@2", total=1)
curators = Group.objects.create(name="curators")
curators.permissions.set(Permission.objects.filter(codename__in=["change_crop", "index_dataset", "delete_dataset"]))
print("STATE " + json.dumps({
    "content_types": sorted([ct.pk, ct.model] for ct in ContentType.objects.filter(app_label="indexing")),
    "permissions": sorted([p.pk, p.codename] for p in Permission.objects.filter(content_type__app_label="indexing")),
    "curators": sorted(curators.permissions.values_list("codename", flat=True)),
    "crop": [crop.pk, crop.label, crop.embedding[0]],
    "group_members": sorted(group.members.values_list("image_id", flat=True)),
}))
"""

READ = """
import json
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from indexing.models import Crop, Dataset, DuplicateGroup, IndexingJob, ModelChange
crop = Crop.objects.get()
curators = Group.objects.get(name="curators")
print("STATE " + json.dumps({
    "content_types": sorted([ct.pk, ct.model] for ct in ContentType.objects.filter(app_label="indexing")),
    "permissions": sorted([p.pk, p.codename] for p in Permission.objects.filter(content_type__app_label="indexing")),
    "curators": sorted(curators.permissions.values_list("codename", flat=True)),
    "crop": [crop.pk, crop.label, float(crop.embedding[0])],
    "group_members": sorted(DuplicateGroup.objects.get().members.values_list("image_id", flat=True)),
    "rows": [Dataset.objects.count(), IndexingJob.objects.count(), ModelChange.objects.count()],
}))
"""


def manage(tree: Path, *args: str, database_url: str) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "visualsearch.settings",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=tree, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def state_of(output: str) -> dict:
    (line,) = [line for line in output.splitlines() if line.startswith("STATE ")]
    return json.loads(line.removeprefix("STATE "))


@pytest.fixture
def old_head_tree(tmp_path: Path) -> Path:
    """The repository as it was at OLD_HEAD (needs the history: CI's clone and a developer's have it)."""
    archive = subprocess.run(["git", "archive", OLD_HEAD], cwd=ROOT, capture_output=True, check=True).stdout
    tree = tmp_path / "old-head"
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    return tree


@pytest.fixture
def empty_database(django_db_blocker) -> str:
    """A database of its own on the tests' server (not the test database), dropped afterwards."""
    with django_db_blocker.unblock():
        connection.ensure_connection()
        params = connection.get_connection_params()
    server = {key: params[key] for key in ("host", "port", "user", "password") if params.get(key)}
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    host = quote(str(server.get("host", "")), safe="")
    port = f":{server['port']}" if server.get("port") else ""
    password = f":{quote(server['password'])}" if server.get("password") else ""
    yield f"postgres://{server.get('user', 'postgres')}{password}@{host}{port}/{DATABASE}"
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def test_a_database_made_at_the_old_head_needs_no_migration_and_keeps_rows_and_permissions(
    old_head_tree: Path, empty_database: str
) -> None:
    manage(old_head_tree, "migrate", "--noinput", "-v0", database_url=empty_database)
    before = state_of(manage(old_head_tree, "shell", "-c", FILL, database_url=empty_database))
    # The old code made the tables the new code expects: nothing of theirs to apply. Only features
    # added since (migrations after the old head's last, OLD_HEAD_LAST) may apply, adding tables of their own.
    applied = re.findall(r"Applying (\w+)\.(\d{4})_", manage(ROOT, "migrate", "--noinput", database_url=empty_database))
    assert all(app == "indexing" and int(number) > OLD_HEAD_LAST for app, number in applied), applied
    manage(ROOT, "makemigrations", "--check", "--dry-run", database_url=empty_database)
    after = state_of(manage(ROOT, "shell", "-c", READ, database_url=empty_database))
    assert after["rows"] == [1, 1, 1]
    for key in ("curators", "crop", "group_members"):
        assert after[key] == before[key], key
    # Every content type and permission kept, with its id; models added since bring their own after them.
    for key in ("content_types", "permissions"):
        assert after[key][: len(before[key])] == before[key], key
    assert before["curators"] == ["change_crop", "delete_dataset", "index_dataset"]
