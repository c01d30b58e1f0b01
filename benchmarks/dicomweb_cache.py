"""WADO-RS caching: a series viewed twice, and the series metadata asked for again and again.

.venv/bin/python benchmarks/dicomweb_cache.py [--instances 100] [--size 512] [--repeats 30]

Runs the whole Django stack in process (the test client; no network) on a throw-away SQLite
database with one CT series of synthetic images. First viewing: every frame fetched; second
viewing: the browser revalidates each with If-None-Match and gets 304 (the instance is immutable,
so nothing is read from disk). Prints the median frame latency of both viewings and their ratio
(goal >= 3x), and the series metadata's p50/p95 once its headers are in the cache (goal p95 <=
20 ms) beside the first, cold request.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from throwaway import throwaway_django  # noqa: E402


def timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    tmp = throwaway_django("dicomweb-bench-")
    from django.test import Client

    from backend.accounts.services import reader_ensure
    from backend.imaging.models import IngestJob
    from backend.imaging.services import ingest_job_create, ingest_job_run
    from backend.projects.services import project_create, project_member_add
    from tests.backend import dicom_files as F

    project = project_create(name="Bench", slug="bench", blinded_share=0.0, reference_share=0.0)
    written = F.write_series(tmp / "ct", args.instances, patient_id="BENCH", size=args.size)
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
        paths=sorted((tmp / "ct").glob("*.dcm")),
    )
    profile, _ = reader_ensure(
        username="bench", password="bench-pass-123456", experience="senior", role="reader"
    )
    project_member_add(project=project, user=profile.user)
    client = Client()
    client.force_login(profile.user)
    series = f"/dicomweb/studies/{written[0].StudyInstanceUID}/series/{written[0].SeriesInstanceUID}"

    first, second, tags = [], [], {}
    for ds in written:
        url = f"{series}/instances/{ds.SOPInstanceUID}/frames/1"
        ms, response = timed(lambda url=url: client.get(url))
        assert response.status_code == 200, response.status_code
        first.append(ms)
        tags[url] = response["ETag"]
    for url, tag in tags.items():
        ms, response = timed(lambda url=url, tag=tag: client.get(url, HTTP_IF_NONE_MATCH=tag))
        assert response.status_code == 304, response.status_code
        second.append(ms)

    from django.core.cache import cache

    cache.clear()
    cold, response = timed(lambda: client.get(f"{series}/metadata"))
    assert response.status_code == 200
    warm = [timed(lambda: client.get(f"{series}/metadata"))[0] for _ in range(args.repeats)]
    warm.sort()
    p95 = warm[min(len(warm) - 1, int(round(0.95 * (len(warm) - 1))))]

    print(f"{args.instances} instances of {args.size} x {args.size} px, Django test client, SQLite")
    print(f"frames, first viewing:  p50 {statistics.median(first):7.2f} ms")
    print(f"frames, second viewing: p50 {statistics.median(second):7.2f} ms (304, If-None-Match)")
    print(
        f"ratio first / second:   {statistics.median(first) / statistics.median(second):7.1f}x (goal >= 3x)"
    )
    print(
        f"series metadata: cold {cold:7.1f} ms; cached p50 {statistics.median(warm):.1f} ms, p95 {p95:.1f} ms "
        f"(goal p95 <= 20 ms)"
    )


if __name__ == "__main__":
    main()
