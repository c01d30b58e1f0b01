"""Volume benchmark: a hospital-year of data in PostgreSQL, and the API endpoints measured on it.

.venv/bin/python benchmarks/volume.py --scale 0.01                 # a quick try: 1% of everything
.venv/bin/python benchmarks/volume.py --json var/benchmarks/volume.json   # full scale (loads once, ~2 min)
.venv/bin/python benchmarks/volume.py --only 'worklist|case|dashboard' --repeats 11
PGOPTIONS='-c jit=off' .venv/bin/python benchmarks/volume.py --only worklist   # a server setting, tried
.venv/bin/python benchmarks/volume.py --fresh --database-url postgres://postgres@db:5432/other

Its own database (--database-url) is created when missing and migrated; the data is loaded with COPY,
then VACUUM ANALYZE, unless it is there already (--fresh drops the database first). At --scale 1: one
project, 200 readers (a third senior) and an admin; 50,000 patients with a CT and an MR study (a
series of 3 instances each), their pair and case (priorities spread, 10% reference set, 20% blinded);
every case read and submitted by two readers over the year (100,000 readings, 600,000 level
annotations, 60% with a box, 2,000,000 annotation events), a reference label per case level and an
adjudication where two grades differ by 2 or more; 50 model versions with their training snapshots
(every grade used, as a training writes it), runs and promotions, the champion's predictions on every
CT study, 100,000 kappa snapshots over the year.

Each endpoint gets a warm-up request (which also takes the Python heap's peak with tracemalloc), then
--repeats timed ones (3 when the warm-up took over --patient-s) through Django's test client, streamed
bodies read to the end; writes run on fresh cases of a second reader. Printed per endpoint: median and
p95 ms, SQL statements, bytes, status, heap peak, an export's time to first byte. An endpoint slower
than --slow-ms shows its 3 slowest statements (a streamed query's time is its DECLARE ... WITH HOLD,
which runs it whole); a statement shape run 10 times or more in one request is shown as a likely N+1.
"""

import argparse
import io
import json
import os
import random
import re
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import islice, product
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/spine_volume"
SLUG = "volume"
LEVELS = ("C2/3", "C3/4", "C4/5", "C5/6", "C6/7", "C7/T1")
NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(days=365)
ADMIN_GETS = f"""/api/projects/ /api/projects/{SLUG}/members/ /api/projects/{SLUG}/audit/ /api/dashboard/projects/
/api/dashboard/projects/{SLUG}/summary/ /api/dashboard/projects/{SLUG}/labeling-progress/
/api/dashboard/projects/{SLUG}/grade-distribution/ /api/dashboard/projects/{SLUG}/kappa-timeline/
/api/dashboard/projects/{SLUG}/kappa-timeline/?kind=reader_reader&kind=model_reader
/api/dashboard/projects/{SLUG}/kappa-by-subset/ /api/dashboard/projects/{SLUG}/confusion-matrix/
/api/dashboard/projects/{SLUG}/model-registry/ /api/dashboard/projects/{SLUG}/label-efficiency/
/api/dashboard/projects/{SLUG}/reader-performance/ /api/dashboard/projects/{SLUG}/adjudication-summary/
/api/learning/projects/{SLUG}/model-versions/ /api/learning/projects/{SLUG}/training-runs/
/api/learning/projects/{SLUG}/kappa/ /api/learning/projects/{SLUG}/kappa/?kind=model_reader
/api/learning/projects/{SLUG}/adjudications/ /api/learning/projects/{SLUG}/adjudications/?status=resolved
/api/learning/projects/{SLUG}/reference-set/ /api/learning/projects/{SLUG}/promotions/""".split()
EXPORTS = ["annotations.csv", "annotations.json", "model-metrics.csv", "coco.json", "reader-performance.csv"]
M = SimpleNamespace()  # the models by class name, once Django is set up
HOUR, MINUTE, DESCRIPTION = timedelta(hours=1), timedelta(minutes=1), "benchmarks/volume.py scale="


def ensure_database(url: str, fresh: bool) -> None:
    import psycopg2

    name = urlparse(url).path.lstrip("/")
    conn = psycopg2.connect(urlparse(url)._replace(path="/postgres").geturl())
    conn.autocommit = True
    with conn.cursor() as cursor:
        if fresh:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")
    conn.close()


def setup_django(url: str) -> None:
    # DEBUG off as in production; a memory broker: a submission's tasks are queued in this process, never run.
    os.environ.update(DATABASE_URL=url, CELERY_BROKER_URL="memory://localhost/", DEBUG="0")
    os.environ.update(SECURE_SSL_REDIRECT="0", ALLOWED_HOSTS="testserver")
    os.environ.update(DJANGO_SETTINGS_MODULE="backend.config.settings")
    os.environ.setdefault("SECRET_KEY", "volume-benchmark-only")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()
    from django.apps import apps
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    M.__dict__.update({model.__name__: model for model in apps.get_models()})


def _cell(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":")).replace("\\", "\\\\")
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _default(field):
    if field.has_default():
        return field.get_default()
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return NOW
    return None if field.null else ""


def copy(model, fields: str, data, chunk: int = 50_000, **constant) -> None:
    """COPY rows (tuples of the space-separated `fields`) into the model's table; the other columns get
    `constant` or the field's default ("" for a blank text, NOW for an auto date)."""
    from django.db import connection

    names = fields.split()
    other = [f for f in model._meta.concrete_fields if f.name not in names and not f.primary_key]
    values = [constant[f.name] if f.name in constant else _default(f) for f in other]
    columns = ", ".join([model._meta.get_field(name).column for name in names] + [f.column for f in other])
    sql = f"COPY {model._meta.db_table} ({columns}) FROM STDIN"
    tail = "".join("\t" + _cell(v) for v in values)
    data, lines = iter(data), [None]
    with connection.cursor() as cursor:
        while lines:
            lines = ["\t".join(map(_cell, row)) + tail + "\n" for row in islice(data, chunk)]
            cursor.copy_expert(sql, io.StringIO("".join(lines)))


def box(k: int, j: int, li: int) -> list[int] | None:
    """The box of case k's reading j at level li: on 60% of the levels."""
    x, y = 180 + k % 17 + 3 * j, 90 + 52 * li + k % 11
    return [x, y, x + 64, y + 34] if (7 * k + 3 * j + li) % 5 < 3 else None


def load(scale: float, rng: random.Random) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Max

    n_readers, n = max(6, round(200 * scale)), max(20, round(50_000 * scale))
    n_versions, n_snapshots = max(3, round(50 * scale)), max(200, round(100_000 * scale))
    copied = [M.Patient, M.Study, M.Series, M.Instance, M.StudyPair, M.Case, M.Assignment, M.LevelAnnotation]
    copied += [M.ReferenceLabel, M.ModelVersion]
    first = [(model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1 for model in copied]
    pid, sid, seid, iid, paid, cid, aid, lid, rlid, vid = first
    User = get_user_model()
    project = M.Project.objects.create(name="Volume", slug=SLUG, description=f"{DESCRIPTION}{scale}")
    names = [f"vol-reader-{k:03d}" for k in range(n_readers)]
    users = User.objects.bulk_create(User(username=name, password="!", date_joined=START) for name in names)
    admin = User.objects.create(username="vol-admin", password="!", date_joined=START)
    profiles = [
        M.ReaderProfile(user=u, experience="junior" if k % 3 else "senior") for k, u in enumerate(users)
    ]
    M.ReaderProfile.objects.bulk_create([*profiles, M.ReaderProfile(user=admin, experience="senior")])
    members = [M.Membership(project=project, user=u) for u in users]
    M.Membership.objects.bulk_create([*members, M.Membership(project=project, user=admin, role="admin")])
    rid, uid, mods = [u.pk for u in users], "1.2.826.0.1.3680043.9.7307", ("CT", "MR")
    at = [START + timedelta(days=365 * k / n) for k in range(n)]
    rows = ((pid + k, f"VOL{k:07d}", f"P^{k}", at[k]) for k in range(n))
    copy(M.Patient, "id patient_id name created_at", rows)
    rows = ((sid + s, f"{uid}.1.{s}", pid + s // 2, mods[s % 2], at[s // 2].date()) for s in range(2 * n))
    copy(M.Study, "id study_uid patient modality study_date", rows, description="C-SPINE")
    copy(M.Study.projects.through, "study", ((sid + s,) for s in range(2 * n)), project=project.pk)
    rows = ((seid + s, f"{uid}.2.{s}", sid + s, mods[s % 2]) for s in range(2 * n))
    copy(M.Series, "id series_uid study modality", rows, series_number=2, rows=512, columns=512)
    orient, step = ([1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 0, -1]), ([0, 0, -20], [-10, 0, 0])  # CT axial, MR sag.
    rows = (
        (iid + 3 * s + i, f"{uid}.3.{s}.{i}", seid + s, i + 1, [v * i for v in step[s % 2]], orient[s % 2])
        + (f"1.2.840.10008.5.1.4.1.1.{2 + 2 * (s % 2)}", f"dicom/vol/{s}/{i}.dcm")
        for s in range(2 * n)
        for i in range(3)
    )
    fields = "id sop_uid series instance_number image_position image_orientation sop_class_uid file"
    header = dict(rows=512, columns=512, transfer_syntax_uid="1.2.840.10008.1.2.1", size_bytes=525_000)
    copy(M.Instance, fields, rows, **header)
    rows = ((paid + k, pid + k, sid + 2 * k, sid + 2 * k + 1, k % 21) for k in range(n))
    copy(M.StudyPair, "id patient ct_study mr_study day_gap", rows)
    ref, blinded = [rng.random() < 0.1 for _ in range(n)], [rng.random() < 0.2 for _ in range(n)]
    priority = [100.0 if r else round(rng.betavariate(2, 5), 4) for r in ref]  # the reference set first
    rows = ((cid + k, paid + k, blinded[k], priority[k], ref[k], at[k]) for k in range(n))
    copy(M.Case, "id pair blinded priority in_reference_set created_at", rows, project=project.pk)
    pairs = [(k % n_readers, (k + 1 + k // n_readers % (n_readers - 1)) % n_readers) for k in range(n)]
    done = [[min(NOW, t + timedelta(hours=rng.uniform(2, 240))) for _ in "ab"] for t in at]
    rows = (
        (aid + 2 * k + j, cid + k, rid[pairs[k][j]], done[k][j] - 5 * MINUTE, done[k][j], 40 + k % 360)
        for k in range(n)
        for j in (0, 1)
    )
    copy(M.Assignment, "id case reader started_at submitted_at time_spent_s", rows, status="submitted")
    grades = []
    for _ in range(n):
        a = rng.choices((0, 1, 2, 3), weights=(45, 30, 17, 8), k=6)
        noise = rng.choices((-2, -1, 0, 1, 2), weights=(2, 14, 68, 14, 2), k=6)
        grades.append([a, [min(3, max(0, g + d)) for g, d in zip(a, noise, strict=True)]])
    # (k, j, li, i): case k, its reading j, level li = level annotation i, with 3 or 4 events (40 per case)
    every = [(k, j, li, 12 * k + 6 * j + li) for k in range(n) for j in (0, 1) for li in range(6)]
    events = [40 * n * (i + 1) // (12 * n) - 40 * n * i // (12 * n) for *_, i in every]
    show = ["blinded" if blinded[k] else ("shown", "hidden")[(k + j + li) % 7 == 0] for k, j, li, _ in every]
    shown = ["" if blinded[k] else f"{SLUG}-v{1 + (n_versions - 1) * k // n}" for k in range(n)]
    rows = (
        (lid + i, aid + 2 * k + j, LEVELS[li], grades[k][j][li], box(k, j, li), show[i], show[i] == "shown")
        + (shown[k], events[i] - 1, done[k][j])
        for k, j, li, i in every
    )
    fields = "id assignment level grade box display suggestion_shown model_version_shown version updated_at"
    copy(M.LevelAnnotation, fields, rows)

    def event_rows():
        for k, j, li, i in every:
            c, final, b = events[i], grades[k][j][li], box(k, j, li)
            snaps = [
                {"grade": final if v == c - 1 else (final + c - 1 - v) % 4, "box": b, "version": v}
                for v in range(1, c)
            ]
            for e in range(c):
                action = "create" if e == 0 else "submit" if e == c - 1 else "update"
                after, when = snaps[min(e, c - 2)], done[k][j] - timedelta(seconds=90 * (c - 1 - e))
                yield lid + i, rid[pairs[k][j]], action, snaps[e - 1] if e else None, after, when

    copy(M.AnnotationEvent, "annotation user action before after at", event_rows())
    reference, adjudications = [], []
    for k, li in ((k, li) for k in range(n) for li in range(6)):
        a, b, resolved, when = grades[k][0][li], grades[k][1][li], (k + li) % 10 < 7, max(done[k])
        if abs(a - b) >= 2:
            who = {names[pairs[k][0]]: a, names[pairs[k][1]]: b}
            decided = (
                ("resolved", rid[pairs[k][0]], max(a, b) - 1, when) if resolved else ("open",) + (None,) * 3
            )
            adjudications.append((cid + k, LEVELS[li], who, when, *decided))
        source = "majority" if a == b else "adjudicated" if abs(a - b) >= 2 and resolved else "senior"
        boxes = [x for x in (box(k, 0, li), box(k, 1, li)) if x]
        mean = [sum(c) / len(boxes) for c in zip(*boxes, strict=True)] if boxes else None
        grade = a if a == b else max(a, b) - (source == "adjudicated")
        reference.append((rlid + 6 * k + li, cid + k, LEVELS[li], grade, mean, source, ref[k], when))
    copy(M.ReferenceLabel, "id case level grade box source frozen updated_at", reference, n_readers=2)
    fields = "case level grades created_at status resolved_by resolved_grade resolved_at"
    copy(M.AdjudicationItem, fields, adjudications, reason="readers_disagree")
    versions = []
    for v in range(n_versions):  # a training snapshot holds every grade the training used, as it writes it
        made = START + timedelta(days=365 * (v + 0.9) / n_versions)
        used = {k: reference[6 * k : 6 * k + 6] for k in range(n) if not ref[k] and at[k] < made}
        used = {f"study-{sid + 2 * k}": {r[2]: r[3] for r in labels} for k, labels in used.items()}
        snapshot = {"labels": 6 * len(used), "studies": list(used), "grades": used, "trained_at": str(made)}
        kappa = round(min(0.92, 0.35 + 0.5 * (v + 1) / n_versions + rng.uniform(-0.04, 0.04)), 4)
        matrix = [[0] * 4 for _ in range(4)]
        for g in rng.choices((0, 1, 2, 3), weights=(45, 30, 17, 8), k=600):
            matrix[g][min(3, max(0, g + rng.choice((-1, 0, 0, 0, 1))))] += 1
        scores = {"n": 600, "kappa_quadratic": kappa, "kappa_quadratic_ci95": [kappa - 0.06, kappa + 0.05]}
        scores |= {"accuracy": round(kappa - 0.1, 4), "binary_kappa": round(kappa - 0.05, 4)}
        metrics = {"test": {**scores, "mean_iou": 0.71}, "reference": {**scores, "confusion_matrix": matrix}}
        promoted = v in (0, n_versions - 1) or rng.random() < 0.5
        reason = "not worse than the champion" if promoted else "worse than the champion"
        metrics["gate"] = {"promoted": promoted, "reason": reason}
        metrics["history"] = [{"epoch": e, "loss": round(1 / (e + 1), 4)} for e in range(30)]
        status = "champion" if v == n_versions - 1 else "retired" if promoted else "challenger"
        versions.append((vid + v, v + 1, status, metrics, snapshot, made, made + HOUR if promoted else None))
    fields = "id number status metrics training_snapshot created_at promoted_at"
    copy(M.ModelVersion, fields, versions, chunk=5, project=project.pk, checkpoint="model.pt")
    rows = ((v[0], v[4]["labels"], v[5] - HOUR, v[5]) for v in versions)
    run = dict(project=project.pk, status="succeeded", trigger="threshold", progress={"stage": "done"})
    copy(M.TrainingRun, "model_version labels_used created_at finished_at", rows, **run)
    champions = [v for v in versions if v[6]]
    rows = ((v[0], champions[c - 1][0] if c else None, v[6]) for c, v in enumerate(champions))
    copy(M.ModelPromotion, "version replaced at", rows, project=project.pk, kind="promote")
    probabilities = [[0.88 if g == grade else 0.04 for g in range(4)] for grade in range(4)]
    rows = (
        (sid + 2 * k, r[2], [178, 88 + 52 * li, 244, 124 + 52 * li], probabilities[r[3]], r[3], 0.08 * r[3])
        for k in range(n)
        for li, r in enumerate(reference[6 * k : 6 * k + 6])
    )
    fields, champion = "study level box probabilities grade binary_probability", vid + n_versions - 1
    copy(M.LevelPrediction, fields, rows, model_version=champion, box_score=0.9, entropy=0.6)
    raters = [("model_group", "model", "junior"), ("model_group", "model", "senior")]
    raters += [("group_group", "junior", "senior"), *(("model_reader", "model", name) for name in names[:5])]
    raters += [("reader_reader", names[k], names[k + 1]) for k in range(4)]
    combos = [
        (*r, *c)
        for r in raters
        for c in product(("all", "shown", "hidden", "blinded"), ("4grade", "binary"), ("none", "quadratic"))
    ]
    rows = []
    for i in range(n_snapshots):
        kappa = round(0.4 + 0.4 * i / n_snapshots + rng.uniform(-0.05, 0.05), 4)
        when, version = START + timedelta(days=365 * i / n_snapshots), vid + n_versions * i // n_snapshots
        rows.append((when, version, *combos[i % 192], kappa, kappa - 0.08, kappa + 0.07, 60 + i // 192))
    fields = "taken_at model_version kind rater_a rater_b subset task weighting kappa ci_low ci_high n"
    copy(M.KappaSnapshot, fields, rows, project=project.pk, trigger="batch")
    audit = partial(M.AuditEntry, project=project, project_slug=SLUG, actor=admin, actor_username="vol-admin")
    entries = [audit(at=START, action="member.add", target_repr=name) for name in names]
    entries += [audit(at=START + timedelta(days=3.5 * w), action="export.download") for w in range(104)]
    entries += [audit(at=v[6], action="model.promote", target_repr=f"{SLUG}-v{v[1]}") for v in champions]
    M.AuditEntry.objects.bulk_create(entries)
    copied += [M.AnnotationEvent, M.AdjudicationItem, M.TrainingRun, M.ModelPromotion, M.LevelPrediction]
    with connection.cursor() as cursor:
        for table in (model._meta.db_table for model in copied):  # identities after the ids COPY set
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            )


def row_counts() -> dict[str, int]:
    from django.apps import apps
    from django.db import connection

    counts = {}
    with connection.cursor() as cursor:
        for model in apps.get_models():
            if model._meta.app_label in ("auth", "accounts", "projects", "imaging", "reading", "learning"):
                cursor.execute(f"SELECT COUNT(*) FROM {model._meta.db_table}")
                counts[model._meta.label] = cursor.fetchone()[0]
    return {label: n for label, n in counts.items() if n and label != "auth.Permission"}


def request(client, method: str, path: str, body=None, memory: bool = False) -> dict:
    """One request, a streamed body read to the end; the SQL it ran, each statement with its time."""
    from django.db import connection

    queries = []

    def timer(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append(((time.perf_counter() - started) * 1000, sql))

    if memory:
        tracemalloc.start()
    # an execute wrapper: a request resets connection.queries, which CaptureQueriesContext reads
    with connection.execute_wrapper(timer):
        started, ttfb = time.perf_counter(), None
        kwargs = {} if body is None else {"data": json.dumps(body), "content_type": "application/json"}
        response = getattr(client, method)(path, **kwargs)
        if response.streaming:
            chunks = iter(response.streaming_content)
            size = len(next(chunks, b""))
            ttfb = (time.perf_counter() - started) * 1000
            size += sum(len(chunk) for chunk in chunks)
            response.close()
        else:
            size = len(response.content)
        ms = (time.perf_counter() - started) * 1000
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if memory else None
    tracemalloc.stop()
    return dict(ms=ms, ttfb_ms=ttfb, sql=queries, bytes=size, status=response.status_code, peak=peak)


def summarize(name: str, path: str, samples: list[dict], peak: float | None = None) -> dict:
    times, last, shapes = sorted(s["ms"] for s in samples), samples[-1], {}
    for _, sql in last["sql"]:
        shape = re.sub(r"\b\d+\b", "?", sql)
        shapes[shape] = shapes.get(shape, 0) + 1
    ttfb = [s["ttfb_ms"] for s in samples if s["ttfb_ms"] is not None]
    result = {
        "endpoint": name,
        "path": path,
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], 1),
        "runs": len(samples),
        "queries": max(len(s["sql"]) for s in samples),
        "bytes": last["bytes"],
        "status": sorted({s["status"] for s in samples}),
        "ttfb_ms": round(statistics.median(ttfb), 1) if ttfb else None,
        "heap_peak_mib": None if peak is None else round(peak, 1),
        "slowest_sql": [{"ms": round(ms, 1), "sql": sql} for ms, sql in sorted(last["sql"])[::-1][:3]],
        "repeated_sql": [{"times": n, "sql": shape} for shape, n in shapes.items() if n >= 10],
    }
    extra = "" if result["ttfb_ms"] is None else f"  first byte {result['ttfb_ms']:.0f} ms"
    extra += f"  heap peak {peak:.0f} MiB" if peak and peak >= 1 else ""
    extra += f"  ({len(samples)} runs)" if len(samples) < 5 else ""
    extra += "" if result["status"] == [200] else "   <<<<<<<<<<<<<<<< NOT 200"
    print(
        f"{name[:60]:<60} {result['median_ms']:>9.1f} {result['p95_ms']:>8.1f} {result['queries']:>7} "
        f"{result['bytes']:>12,} {','.join(map(str, result['status'])):>6}{extra}"
    )
    return result


def measure(repeats: int, patient_s: float, only: str) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    names = ["vol-reader-000", "vol-reader-001", "vol-admin"]
    users = get_user_model().objects.in_bulk(names, field_name="username")
    reader, writer, admin = (Client() for _ in names)
    for client, name in zip((reader, writer, admin), names, strict=True):
        client.force_login(users[name])
    cases = M.Case.objects.filter(project__slug=SLUG)
    n, deep = cases.count(), int(0.8 * cases.count())
    mine = M.Assignment.objects.filter(reader=users[names[0]], case__blinded=False)  # with suggestions
    read = mine.order_by("case_id")[0].case_id
    search = cases.order_by("pk").values_list("pair__patient__patient_id", flat=True)[n // 3][-4:]
    fresh = (
        cases.exclude(assignments__reader=users[names[1]]).filter(blinded=False).order_by("-priority", "pk")
    )
    fresh, wanted, results = list(fresh.values_list("pk", flat=True)[: 2 * repeats + 2]), re.compile(only), []

    def get(client, name: str, path: str, runs: int | None = None) -> None:
        if wanted.search(name):  # a warm-up request, which also measures the Python heap's peak
            first = request(client, "get", path, memory=True)
            runs = runs or (repeats if first["ms"] < patient_s * 1000 else min(3, repeats))
            results.append(
                summarize(name, path, [request(client, "get", path) for _ in range(runs)], first["peak"])
            )

    request(reader, "get", "/api/reading/worklist/?limit=1")  # the process's first request imports and caches
    print(f"\n{'endpoint':<60} {'median ms':>9} {'p95 ms':>8} {'queries':>7} {'bytes':>12} status")
    worklist = {"first page": "", "submitted newest first": "?status=submitted&sort=-date"}
    worklist |= {f"deep page (offset {deep})": f"?offset={deep}", f"search {search!r}": f"?search={search}"}
    for name, query in worklist.items():
        get(reader, f"reader: worklist, {name}", f"/api/reading/worklist/{query}")
    get(reader, "reader: case open (a case they read)", f"/api/reading/cases/{read}/")
    url, name = "/api/reading/cases/{}/levels/{}/", "reader: level save (a fresh case's first)"
    if wanted.search(name):
        saves = [
            request(writer, "put", url.format(c, "C5-6"), {"grade": 2}, c == fresh[0])
            for c in fresh[: repeats + 1]
        ]
        results.append(summarize(name, url.format("<id>", "C5-6"), saves[1:], saves[0]["peak"]))
    submits, name = [], "reader: submit (six levels graded)"
    for case in fresh[repeats + 1 :] if wanted.search(name) else []:
        for level, grade in zip(LEVELS, (0, 1, 2, 1, 0, 0), strict=True):
            request(writer, "put", url.format(case, level.replace("/", "-")), {"grade": grade})
        submits.append(
            request(writer, "post", f"/api/reading/cases/{case}/submit/", {"time_spent_s": 60}, not submits)
        )
    if submits:
        results.append(summarize(name, "/api/reading/cases/<id>/submit/", submits[1:], submits[0]["peak"]))
    for path in ADMIN_GETS:
        get(admin, "admin: " + path.removeprefix("/api/").replace(f"projects/{SLUG}/", ""), path)
    get(admin, "admin: dashboard/cases/<id>/history/ (a case read)", f"/api/dashboard/cases/{read}/history/")
    get(admin, "admin: dashboard/workers/ (waits on a worker's ping)", "/api/dashboard/workers/", runs=1)
    for export in EXPORTS:
        get(admin, f"admin: exports/{export}", f"/api/exports/projects/{SLUG}/{export}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--scale", type=float, default=1.0, help="1: a hospital year; 0.01: a quick try")
    parser.add_argument("--fresh", action="store_true", help="drop the database and load again")
    parser.add_argument("--repeats", type=int, default=7, help="timed requests per endpoint")
    parser.add_argument("--patient-s", type=float, default=5.0, help="slower warm-ups: 3 timed requests")
    parser.add_argument("--slow-ms", type=float, default=200.0, help="show the slowest SQL above this median")
    parser.add_argument("--only", default="", help="a regular expression: measure the endpoints it finds")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        sys.exit("--database-url must point at PostgreSQL.")
    ensure_database(args.database_url, args.fresh)
    setup_django(args.database_url)
    from django.db import connection, transaction

    project, load_s = M.Project.objects.filter(slug=SLUG).first(), None
    if project is None:
        started = time.perf_counter()
        with transaction.atomic():
            load(args.scale, random.Random(0))
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        load_s = time.perf_counter() - started
        print(f"loaded at scale {args.scale} in {load_s:.0f} s (COPY, then VACUUM ANALYZE)")
    elif project.description != f"{DESCRIPTION}{args.scale}":
        sys.exit(f"The database holds {project.description!r}: pass --fresh to load scale {args.scale}.")
    counts = row_counts()
    print("\n".join(f"{label:<28} {n:>11,}" for label, n in counts.items()))
    results = measure(args.repeats, args.patient_s, args.only)
    for r in results:
        slow = r["median_ms"] > args.slow_ms and "workers" not in r["path"]
        if slow or r["repeated_sql"]:
            print(f"\n{r['endpoint']}  {r['path']}: median {r['median_ms']:.0f} ms, {r['queries']} queries")
        for q in r["slowest_sql"] if slow else []:
            print(f"  {q['ms']:9.1f} ms  {q['sql'][:700]}")
        for q in r["repeated_sql"]:
            print(f"  N+1? {q['times']} x  {q['sql'][:300]}")
    failed = [r["endpoint"] for r in results if r["status"] != [200]]
    if failed:
        print(f"\n!!!!!!!!!!!!!!!! NOT 200: {', '.join(failed)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        figures = {"scale": args.scale, "load_s": load_s, "rows": counts, "endpoints": results}
        args.json.write_text(json.dumps(figures, indent=1))
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
