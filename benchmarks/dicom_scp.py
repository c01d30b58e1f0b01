"""DICOM networking: a cohort sent to the C-STORE SCP by a pynetdicom SCU, beside a folder ingest.

.venv/bin/python benchmarks/dicom_scp.py [--cohort var/demo-cohort]

The cohort defaults to the demo's (12 synthetic patients, 783 CT and MR instances; generated when
missing). Each side gets a throw-away SQLite database and media folder:
- folder: `manage.py ingest DIR` in its own process, timed (Django's start-up included);
- network: the SCP (backend.imaging.scp) in this process, one association that stores every
  instance, then the association's ingest job; timed from the association's request to the
  job's end. Then the same files again (all must come back as duplicates, nothing new stored)
  and one instance of an unsupported modality (it must get a failure status).
Prints instances per second for both.
"""

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from throwaway import throwaway_django, throwaway_env  # noqa: E402


def folder_ingest(cohort: Path, files: int) -> float:
    tmp = Path(tempfile.mkdtemp(prefix="scp-bench-folder-"))
    env = throwaway_env(tmp)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", "ingest", str(cohort), "--project", "bench", "--quiet"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    print(f"folder ingest:   {files} files in {seconds:6.1f} s = {files / seconds:6.1f} instances/s")
    return seconds


def _send(port: int, paths, ae_title: str = "BENCH") -> list[int]:
    import pydicom
    from pynetdicom import AE
    from pynetdicom.sop_class import CTImageStorage, MRImageStorage

    ae = AE(ae_title=ae_title)
    ae.add_requested_context(CTImageStorage)
    ae.add_requested_context(MRImageStorage)
    assoc = ae.associate("127.0.0.1", port, ae_title="SPINE")
    assert assoc.is_established, "association refused"
    statuses = [assoc.send_c_store(pydicom.dcmread(p)).Status for p in paths]
    assoc.release()
    return statuses


def _wait(server, count: int) -> None:
    deadline = time.monotonic() + 600
    while len(server.jobs) < count:
        if time.monotonic() > deadline:
            raise SystemExit("the association's ingest job did not finish")
        time.sleep(0.05)


def network_ingest(cohort: Path, paths: list[Path]) -> float:
    tmp = throwaway_django("scp-bench-net-")
    from backend.imaging.models import IngestJob, Instance
    from backend.imaging.scp import ScpConfig, StoreScp
    from backend.projects.services import project_create
    from tests.backend import dicom_files as F

    project = project_create(name="Bench", slug="bench", blinded_share=0.0, reference_share=0.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = StoreScp(project=project, config=ScpConfig("SPINE", "127.0.0.1", port, []))
    server.start()
    try:
        started = time.perf_counter()
        statuses = _send(port, paths)
        _wait(server, 1)
        seconds = time.perf_counter() - started
        job = IngestJob.objects.get(pk=server.jobs[0])
        assert set(statuses) == {0}, f"failures: {sorted(set(statuses))}"
        assert job.stored == len(paths) == Instance.objects.count(), (job.stored, len(paths))
        print(
            f"C-STORE to SCP:  {len(paths)} files in {seconds:6.1f} s = {len(paths) / seconds:6.1f} instances/s"
        )

        again = time.perf_counter()
        statuses = _send(port, paths)
        _wait(server, 2)
        resent = IngestJob.objects.get(pk=server.jobs[1])
        assert (resent.stored, resent.duplicates) == (0, len(paths)), (resent.stored, resent.duplicates)
        print(
            f"sent again:      {resent.duplicates} duplicates, nothing stored, in {time.perf_counter() - again:.1f} s"
        )

        F.write_other_modality(tmp / "us.dcm")
        status = _send(port, [tmp / "us.dcm"])[0]
        assert status == 0xC000, hex(status)
        print(f"a US instance:   failure status 0x{status:04X}")
    finally:
        server.stop()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cohort", type=Path, default=ROOT / "var" / "demo-cohort")
    args = parser.parse_args()
    if not (args.cohort / "manifest.json").is_file():
        from ml.synthetic import CohortConfig, generate_cohort

        print(f"generating the demo cohort into {args.cohort} ...")
        generate_cohort(CohortConfig(out=args.cohort, patients=12, seed=2026, workers=2))  # as seed_demo does
    paths = sorted(args.cohort.rglob("*.dcm"))
    folder = folder_ingest(args.cohort, len(paths))
    network = network_ingest(args.cohort, paths)
    print(f"network / folder time: {network / folder:.2f}x")


if __name__ == "__main__":
    main()
