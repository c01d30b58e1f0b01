"""The prediction API's latency for one 6-level CT study, as an outside caller sees it.

.venv/bin/python benchmarks/prediction_api.py [--patients 4] [--repeats 5]

A throw-away SQLite database and media folder; a small synthetic cohort; a champion trained on it
by `ml` (the smoke preset: its grades mean nothing, its cost is the real one). Then, through the
whole Django stack (test client, token-less admin session):
- `study_uid` of a stored study the champion has not read: computed now (reformat, detector,
  classifier), p50 over --repeats studies read afresh (the stored predictions are dropped);
- the same study again: answered from the stored predictions;
- the study's files uploaded (multipart): stored as an upload, then answered.
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    tmp = throwaway_django("predict-bench-", PREDICT_RATE="10000/hour")
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from backend.accounts.services import reader_ensure
    from backend.imaging.models import IngestJob
    from backend.imaging.services import ingest_job_create, ingest_job_run
    from backend.learning.models import LevelPrediction
    from backend.learning.services import model_version_promote, model_version_register
    from backend.projects.services import project_create, project_member_add
    from ml.config import preset
    from ml.synthetic import CohortConfig, generate_cohort
    from ml.train import train

    cohort = tmp / "cohort"
    generate_cohort(CohortConfig(out=cohort, patients=args.patients, seed=11))
    train(preset("smoke", cohort=str(cohort), out=str(tmp / "model"), classifier_epochs=1, detector_epochs=1))
    project = project_create(name="Bench", slug="bench", blinded_share=0.0, reference_share=0.0)
    folders = sorted(p for p in cohort.iterdir() if p.is_dir())
    for folder in folders[:-1]:  # the last patient comes as an upload
        ingest_job_run(
            job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
            paths=sorted(folder.rglob("*.dcm")),
        )
    champion = model_version_promote(
        version=model_version_register(project=project, checkpoint=str(tmp / "model" / "model.pt"))
    )
    profile, _ = reader_ensure(
        username="caller", password="bench-pass-123456", experience="senior", role="reader"
    )
    project_member_add(project=project, user=profile.user, role="admin")
    client = Client()
    client.force_login(profile.user)
    url = "/api/learning/projects/bench/predict/"
    study = project.studies.filter(modality="CT").first()

    def ask() -> float:
        started = time.perf_counter()
        response = client.post(url, {"study_uid": study.study_uid}, content_type="application/json")
        assert response.status_code == 200, response.content
        return (time.perf_counter() - started) * 1000

    computed = []
    for _ in range(args.repeats):
        LevelPrediction.objects.filter(model_version=champion, study=study).delete()
        computed.append(ask())
    stored = [ask() for _ in range(args.repeats)]
    files = sorted((folders[-1] / "CT").glob("*.dcm"))
    started = time.perf_counter()
    response = client.post(
        url, {"files": [SimpleUploadedFile(p.name, p.read_bytes(), "application/dicom") for p in files]}
    )
    assert response.status_code == 200, response.content
    upload_ms = (time.perf_counter() - started) * 1000

    print(f"one CT study ({len(files)} slices), champion {champion.label}, 2 cores, Django test client")
    print(f"study_uid, computed now:  p50 {statistics.median(computed):7.0f} ms over {args.repeats}")
    print(f"study_uid, already read:  p50 {statistics.median(stored):7.1f} ms")
    print(f"files uploaded, then read: {upload_ms:6.0f} ms")


if __name__ == "__main__":
    main()
