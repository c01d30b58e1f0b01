"""The demo right after `make run`, before any model exists: its level lines sit on the discs."""

import json

import numpy as np
import pytest
from rest_framework.test import APIClient

from backend.demo.seed import demo_seed
from backend.imaging.models import Instance
from backend.reading.models import Case

pytestmark = pytest.mark.django_db
WITHIN_MM = 3.0


def _plane_distance(instance: Instance, point) -> float:
    """How far a point lies from an image's plane (mm): what a line drawn from that image misses by."""
    r, c = np.array(instance.image_orientation[:3], float), np.array(instance.image_orientation[3:], float)
    normal = np.cross(r, c)
    return float(abs(np.dot(np.subtract(point, instance.image_position), normal / np.linalg.norm(normal))))


def test_the_demos_level_lines_are_within_3_mm_of_the_discs_before_any_model(tmp_path):
    project = demo_seed(
        patients=6, cohort_dir=tmp_path / "demo-cohort", simulated_share=0.0, log=lambda _: None
    )
    assert not project.model_versions.exists()
    manifest = json.loads((tmp_path / "demo-cohort" / "manifest.json").read_text())
    client = APIClient()
    client.force_authenticate(project.memberships.first().user)
    ct_errors, mr_errors = [], []
    for patient in manifest["patients"]:
        case = Case.objects.get(project=project, pair__ct_study__study_uid=patient["ct"]["study_uid"])
        positions = client.get(f"/api/reading/cases/{case.pk}/").json()["level_positions"]
        mr_axial = list(
            Instance.objects.filter(series__series_uid=positions["mr_axial_series_uid"]).order_by(
                "instance_number", "sop_uid"
            )
        )
        for placed, truth in zip(positions["levels"], patient["levels"], strict=True):
            # CT: the line is the finder's disc line (the stack follows it)
            found = placed["ct_position"]
            ct_errors.append(
                np.linalg.norm(np.subtract(found["centre"], truth["ct_disc_centre_mm"])) if found else np.inf
            )
            # MR: the disc-aligned axial image's line
            assert placed["mr_source"] == "disc_aligned"
            mr_errors.append(_plane_distance(mr_axial[placed["mr_index"]], truth["mr_disc_centre_mm"]))
    ct_share = np.mean(np.array(ct_errors) <= WITHIN_MM)
    mr_share = np.mean(np.array(mr_errors) <= WITHIN_MM)
    assert ct_share >= 0.95 and mr_share >= 0.95, (ct_share, mr_share, ct_errors, mr_errors)
