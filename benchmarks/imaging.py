"""Imaging benchmarks: ingest rate vs bare pydicom, WADO-RS frame latency, memory of a 1 GB upload.

DATABASE_URL=postgres://postgres@127.0.0.1:5432/spine_bench .venv/bin/python benchmarks/imaging.py
    [--cohort var/cohort300 --patients 10] [--upload-gb 1.0] [--frames 300]
Goals: ingest rate >= 0.5 x dcmread of the same files (on PostgreSQL; the median of --repeat
rounds, each from empty tables; bare_file_create_instances_per_s is what creating the same
files alone costs on this disk); frame retrieval median and
p99 latency and bytes/s for a 100-instance series on loopback; a bounded peak RSS of the web
process while it receives and unpacks a 1 GB upload. The database named in DATABASE_URL is
dropped and re-created (default: spine_bench on the local PostgreSQL).
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/spine_bench")


def reset_database() -> None:
    import psycopg2
    from dj_database_url import parse

    cfg = parse(os.environ["DATABASE_URL"])
    if "postgresql" not in cfg["ENGINE"]:
        return
    conn = psycopg2.connect(host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"], dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{cfg["NAME"]}"')
        cursor.execute(f'CREATE DATABASE "{cfg["NAME"]}"')
    conn.close()


def cohort_files(cohort: Path, patients: int) -> list[Path]:
    if not (cohort / "manifest.json").is_file():
        from ml.synthetic import CohortConfig, generate_cohort

        generate_cohort(CohortConfig(out=cohort, patients=patients, seed=42, workers=2))
    folders = sorted(p for p in cohort.iterdir() if p.is_dir())[:patients]
    return sorted(f for folder in folders for f in folder.rglob("*.dcm"))


def bench_ingest(files: list[Path], repeat: int = 3) -> dict:
    """Median of `repeat` rounds each way; the platform starts every round from empty tables."""
    import pydicom
    from django.conf import settings

    from backend.imaging.models import IngestJob, Patient, Study
    from backend.imaging.services import ingest_job_create, ingest_job_run

    bare, platform, creates, ratios, stored = [], [], [], [], 0
    media = Path(settings.MEDIA_ROOT)
    for _ in range(repeat):
        started = time.perf_counter()
        for path in files:
            pydicom.dcmread(path)
        bare.append(time.perf_counter() - started)
        Study.objects.all().delete()  # series, instances, pairs and requests go with them
        Patient.objects.all().delete()
        shutil.rmtree(media / "dicom", ignore_errors=True)
        os.sync()  # the previous round's deletions and dirty pages must not slow this one down
        job = ingest_job_create(source=IngestJob.Source.FOLDER, project=None)
        started = time.perf_counter()
        ingest_job_run(job=job, paths=files)
        platform.append(time.perf_counter() - started)
        ratios.append(bare[-1] / platform[-1])
        stored = job.stored
        creates.append(file_create_seconds(files, media / "create-floor"))
    bare_s, platform_s = statistics.median(bare), statistics.median(platform)
    return {
        "instances": len(files),
        "stored": stored,
        "rounds": repeat,
        "ingest_instances_per_s": round(len(files) / platform_s, 1),
        "dcmread_instances_per_s": round(len(files) / bare_s, 1),
        "ratio_to_dcmread": round(bare_s / platform_s, 3),
        "ratio_per_round": [round(r, 3) for r in ratios],
        # What only creating the same files (same sizes, same disk, one thread) costs: the floor
        # any design that keeps one file per instance pays on this machine.
        "bare_file_create_instances_per_s": round(len(files) / statistics.median(creates), 1),
    }


def file_create_seconds(files: list[Path], folder: Path) -> float:
    payloads = [path.read_bytes() for path in files]
    folder.mkdir(parents=True, exist_ok=True)
    os.sync()
    started = time.perf_counter()
    for k, payload in enumerate(payloads):
        descriptor = os.open(folder / f"{k}.dcm", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(descriptor, payload)
        os.close(descriptor)
    seconds = time.perf_counter() - started
    shutil.rmtree(folder)
    return seconds


def hundred_slice_series(template: Path, folder: Path, n: int = 100) -> str:
    """A 100-instance CT series made from one synthetic slice, ingested; returns its UID."""
    import pydicom
    from pydicom.uid import generate_uid

    from backend.imaging.models import IngestJob
    from backend.imaging.services import ingest_job_create, ingest_job_run

    folder.mkdir(parents=True, exist_ok=True)
    ds = pydicom.dcmread(template)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    for k in range(n):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber, ds.ImagePositionPatient[2] = k + 1, -1.0 * k
        ds.save_as(folder / f"{k:04d}.dcm", enforce_file_format=True)
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=None), paths=sorted(folder.iterdir())
    )
    return str(ds.SeriesInstanceUID)


def start_server(port: int, media: Path) -> subprocess.Popen:
    env = dict(os.environ, MEDIA_ROOT=str(media), DEBUG="1", INGEST_ASYNC_BYTES=str(1 << 20))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "backend.config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "600",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    import socket

    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the web server did not start")


def worker_rss_peak_kb(server: subprocess.Popen) -> int:
    """Peak resident memory (VmHWM) of gunicorn's worker process."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    peaks = []
    for pid in [server.pid, *map(int, children)]:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]))
    return max(peaks)


def bench_frames(port: int, token: str, series, count: int) -> dict:
    instances = list(series.instances.order_by("instance_number"))
    conn = http.client.HTTPConnection("127.0.0.1", port)
    latencies, total_bytes = [], 0
    headers = {
        "Authorization": f"Token {token}",
        "Accept": 'multipart/related; type="application/octet-stream"',
    }
    for k in range(count):
        instance = instances[k % len(instances)]
        url = (
            f"/dicomweb/studies/{series.study.study_uid}/series/{series.series_uid}/instances/"
            f"{instance.sop_uid}/frames/1"
        )
        started = time.perf_counter()
        conn.request("GET", url, headers=headers)
        body = conn.getresponse().read()
        latencies.append(time.perf_counter() - started)
        total_bytes += len(body)
    latencies.sort()
    return {
        "series_instances": len(instances),
        "requests": count,
        "median_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 2),
        "megabytes_per_s": round(total_bytes / sum(latencies) / 1e6, 1),
    }


def build_upload_zip(path: Path, source: Path, gigabytes: float) -> int:
    """A stored (uncompressed) zip of copies of one DICOM file, gigabytes in size."""
    data = source.read_bytes()
    copies = int(gigabytes * 1e9 / len(data))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for k in range(copies):
            archive.writestr(f"copy{k:06d}.dcm", data)
    return path.stat().st_size


def bench_upload(port: int, token: str, zip_path: Path, server: subprocess.Popen) -> dict:
    boundary = "benchboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + zip_path.stat().st_size + len(tail)

    def body():
        yield head
        with zip_path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                yield chunk
        yield tail

    before = worker_rss_peak_kb(server)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    conn.request(
        "POST",
        "/api/imaging/uploads/",
        body=body(),
        headers={
            "Authorization": f"Token {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(length),
        },
    )
    response = conn.getresponse()
    payload = json.loads(response.read())
    seconds = time.perf_counter() - started
    return {
        "upload_bytes": length,
        "status": response.status,
        "seconds": round(seconds, 1),
        "web_worker_peak_rss_mb_before": round(before / 1024, 1),
        "web_worker_peak_rss_mb_after": round(worker_rss_peak_kb(server) / 1024, 1),
        "job": {k: payload.get(k) for k in ("id", "status", "total_files")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cohort", type=Path, default=ROOT / "var" / "cohort300")
    parser.add_argument("--patients", type=int, default=10)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5, help="ingest rounds (median)")
    parser.add_argument("--upload-gb", type=float, default=1.0)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    reset_database()
    # Beside the platform's own storage (var/media), on the same disk: /tmp may be another story.
    (ROOT / "var").mkdir(exist_ok=True)
    media = Path(tempfile.mkdtemp(prefix="bench-media-", dir=ROOT / "var"))
    os.environ["MEDIA_ROOT"] = str(media)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from backend.accounts.services import reader_create, user_token_get_or_create
    from backend.imaging.models import Series

    result = {"database": os.environ["DATABASE_URL"].rsplit("@", 1)[-1]}
    files = cohort_files(args.cohort, args.patients)
    result["ingest"] = bench_ingest(files, repeat=args.repeat)

    series = Series.objects.get(series_uid=hundred_slice_series(files[0], media / "series100"))
    admin = reader_create(username="bench-admin", password="bench-pass-123456", role="admin", validate=False)
    token = user_token_get_or_create(user=admin.user)
    server = start_server(args.port, media)
    try:
        result["wado_frames"] = bench_frames(args.port, token, series, args.frames)
        with tempfile.TemporaryDirectory() as tmp:
            zip_path = Path(tmp) / "big.zip"
            build_upload_zip(zip_path, files[0], args.upload_gb)
            result["upload"] = bench_upload(args.port, token, zip_path, server)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(media, ignore_errors=True)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
