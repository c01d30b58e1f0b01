"""The synthetic cohort: valid DICOM, plausible tissue values, consistent geometry, known truth."""

import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pydicom
import pytest
from sklearn.metrics import cohen_kappa_score

from ml import LEVELS
from ml.imaging import load_ct_volume, sagittal_reformat
from ml.synthetic import CohortConfig, generate_cohort, make_panel, oracle_accuracy, read_level
from ml.synthetic import anatomy as A
from ml.synthetic.oracle import canal_cut_on_patients, cord_ceiling, oracle_on_patients
from ml.synthetic.render import Placement, ct_tissue_hu, mr_tissue_t2
from ml.synthetic.scanners import PROFILES, sample_ct
from ml.synthetic.schema import MANIFEST_SCHEMA
from tests.ml.conftest import TINY_SEED


def ct_files(cohort: Path, patient: dict) -> list[Path]:
    return sorted((cohort / patient["ct"]["path"]).glob("*.dcm"))


def anatomy_of(seed: int, index: int) -> A.PatientAnatomy:
    return A.sample_anatomy(np.random.default_rng(np.random.SeedSequence([seed, index])))


def test_manifest_follows_its_schema(tiny_cohort):
    _, manifest = tiny_cohort
    jsonschema.validate(manifest, MANIFEST_SCHEMA)
    assert [lv["level"] for lv in manifest["patients"][0]["levels"]] == list(LEVELS)


def test_every_file_is_valid_dicom_with_what_a_viewer_needs(tiny_cohort):
    cohort, manifest = tiny_cohort
    for patient in manifest["patients"]:
        series = {}
        for path in (cohort / patient["folder"]).rglob("*.dcm"):
            ds = pydicom.dcmread(path)
            assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
            for keyword in (
                "PatientID",
                "StudyInstanceUID",
                "SeriesInstanceUID",
                "SOPInstanceUID",
                "FrameOfReferenceUID",
                "ImagePositionPatient",
                "ImageOrientationPatient",
                "PixelSpacing",
                "SliceThickness",
                "StudyDate",
                "Modality",
                "InstanceNumber",
                "Rows",
                "Columns",
            ):
                assert keyword in ds, f"{path} lacks {keyword}"
            assert ds.PatientID == patient["patient_id"]
            assert ds.pixel_array.shape == (ds.Rows, ds.Columns)
            series.setdefault((ds.Modality, ds.SeriesInstanceUID), []).append(ds)
        modalities = sorted(m for m, _ in series)
        assert modalities == ["CT", "MR", "MR"]
        ct = next(v for (m, _), v in series.items() if m == "CT")
        mr = [v for (m, _), v in series.items() if m == "MR"]
        assert {ds.StudyInstanceUID for ds in ct} == {patient["ct"]["study_uid"]}
        assert len({ds.SOPInstanceUID for ds in ct}) == len(ct) == patient["ct"]["n_slices"]
        assert all(ds.RescaleIntercept == -1024 and ds.RescaleSlope == 1 for ds in ct)
        # CT and MRI do not share a frame of reference, as in real life.
        assert ct[0].FrameOfReferenceUID != mr[0][0].FrameOfReferenceUID
        assert mr[0][0].StudyInstanceUID == mr[1][0].StudyInstanceUID == patient["mr"]["study_uid"]


def test_tissue_values_follow_the_literature():
    rng = np.random.default_rng(0)
    for _ in range(50):
        hu = ct_tissue_hu(rng, age=rng.uniform(30, 80))
        assert hu[A.AIR] == -1000
        assert 400 <= hu[A.CORTICAL] <= 1100
        assert 180 <= hu[A.CANCELLOUS] <= 390
        assert 60 <= hu[A.NUCLEUS] <= 80
        assert 0 <= hu[A.CSF] <= 15 and 20 <= hu[A.CORD] <= 30
        assert -100 <= hu[A.FAT] <= -50 and 10 <= hu[A.MUSCLE] <= 80
        assert hu[A.CORD_MYELOPATHY] == hu[A.CORD], "cord signal change is invisible on CT"
        t2 = mr_tissue_t2(rng)
        assert t2[A.CSF] > t2[A.CORD_MYELOPATHY] > t2[A.CORD] > t2[A.CORTICAL]
        assert t2[A.NUCLEUS] > t2[A.ANNULUS]


def test_ct_images_hold_those_values_where_the_anatomy_is(tiny_cohort):
    cohort, manifest = tiny_cohort
    for _index, patient in enumerate(manifest["patients"]):
        volume = load_ct_volume(ct_files(cohort, patient))
        assert volume.hu.min() >= -1024 and np.percentile(volume.hu, 1) < -900, "air around the neck"
        for level in patient["levels"]:
            x0, y0, x1, y1 = level["roi_axial"]
            slice_hu = volume.hu[level["disc_slice_index"]]
            canal = slice_hu[int(y0) : int(y1) + 1, int(x0) : int(x1) + 1]
            # The canal's content is soft tissue/CSF/fat, ringed by bone somewhere in the slice.
            assert -110 < float(np.median(canal)) < 150, (patient["patient_id"], level["level"])
            assert slice_hu.max() > 300


def test_roi_boxes_frame_the_canal_in_the_sagittal_reformat(tiny_cohort):
    cohort, manifest = tiny_cohort
    for _index, patient in enumerate(manifest["patients"]):
        volume = load_ct_volume(ct_files(cohort, patient))
        reformat = sagittal_reformat(volume)
        rows, cols = reformat.image.shape
        boxes = [level["roi_sagittal"] for level in patient["levels"]]
        for (x0, y0, x1, y1), level in zip(boxes, patient["levels"], strict=True):
            assert 0 <= x0 < x1 <= cols and 0 <= y0 < y1 <= rows
            assert 8 <= (x1 - x0) * reformat.spacing <= 40 and 8 <= (y1 - y0) * reformat.spacing <= 25
            crop = reformat.image[int(y0) : int(y1), int(x0) : int(x1)]
            assert (crop > 250).mean() > 0.02, "bone (posterior body wall, laminae) at the box edges"
            assert ((crop > -40) & (crop < 120)).mean() > 0.2, "the canal's soft tissue inside"
            # The disc row of the box matches the disc slice.
            disc_row = (reformat.z_top - level["disc_z_mm"]) / reformat.spacing
            assert y0 < disc_row < y1
        centres = [(y0 + y1) / 2 for _, y0, _, y1 in boxes]
        assert centres == sorted(centres), "levels run from C2/3 down to C7/T1"


def test_disc_slices_hit_the_disc_not_the_body(tiny_cohort):
    cohort, manifest = tiny_cohort
    at_disc, at_body, n = [], [], 0
    for index, patient in enumerate(manifest["patients"]):
        rng = np.random.default_rng(np.random.SeedSequence([manifest["seed"], index]))
        anatomy = A.sample_anatomy(rng)
        placement = Placement.of(sample_ct(rng, PROFILES["default"], matrix=manifest["image_size"]))
        volume = load_ct_volume(ct_files(cohort, patient))
        for k, level in enumerate(patient["levels"]):
            s_disc = anatomy.level_s[k]
            u = -anatomy.profile_at("canal_ap", s_disc) / 2 - 1.0  # the disc's posterior margin
            x, y, z = placement.to_patient(anatomy.spine_point(s_disc, u))
            plane_point = np.array([x, y, volume.z[level["disc_slice_index"]]])
            # The slice's central plane cuts the disc where it borders the canal.
            assert anatomy.labels(placement.to_anatomy(plane_point[None]))[0] in (A.ANNULUS, A.NUCLEUS)
            body = placement.to_patient(
                anatomy.spine_point(s_disc + anatomy.disc_height[k] / 2 + 6.0, u - 2.0)
            )
            for (px, py, pz), found in (((x, y, z), at_disc), (body, at_body)):
                col = int(round((px - volume.x0) / volume.col_spacing))
                row = int(round((py - volume.y0) / volume.row_spacing))
                slice_index = int(np.argmin(np.abs(volume.z - pz)))
                found.append(volume.hu[slice_index, row, col])
            assert abs(int(np.argmin(np.abs(volume.z - z))) - level["disc_slice_index"]) == 0
            n += 1
    # In the image, with partial volume of the endplates in thick slices: darker than the body.
    assert (np.array(at_disc) < np.array(at_body)).mean() >= 0.8, (at_disc, at_body)
    assert n == 6 * len(manifest["patients"])


def _anatomy_only_cohort(patients: int, seed: int = 0) -> list[A.PatientAnatomy]:
    return [anatomy_of(seed, i) for i in range(patients)]


@pytest.fixture(scope="module")
def population():
    return _anatomy_only_cohort(400)


def test_grade_prevalence_is_realistic(population):
    grades = np.array([[t.grade for t in a.truths] for a in population])
    share = np.bincount(grades.ravel(), minlength=4) / grades.size
    assert share[0] + share[1] >= 0.7, share  # most levels 0-1
    assert share[0] > share[1] > share[2] > share[3] > 0.02, share
    affected = (grades >= 1).mean(axis=0)
    assert affected.argmax() == LEVELS.index("C5/6")
    assert affected[LEVELS.index("C4/5")] > affected[LEVELS.index("C3/4")] > affected[LEVELS.index("C2/3")]
    assert ((grades >= 2).sum(axis=1) >= 2).mean() > 0.1, "multilevel disease in some patients"
    mechanisms = {t.primary_mechanism for a in population for t in a.truths}
    assert {"disc_osteophyte", "ligamentum_flavum", "opll", "developmental"} <= mechanisms


def test_grades_overlap_in_canal_measures_and_grade3_hides_on_ct(population):
    ap = {g: [] for g in range(4)}
    for a in population:
        for k, t in enumerate(a.truths):
            ap[t.grade].append(a.level_measures(k)["canal_ap_mm"])
    assert max(ap[0]) > min(ap[1]) and max(ap[1]) > min(ap[2]) and max(ap[2]) > min(ap[3])
    assert np.median(ap[0]) > np.median(ap[1]) > np.median(ap[2]) > np.median(ap[3])


def test_simulated_reader_agreement(population):
    panel = make_panel(seniors=3, juniors=3, seed=5)
    levels = [
        (str(i), LEVELS[k], t.severity) for i, a in enumerate(population) for k, t in enumerate(a.truths)
    ]
    grades = {
        r.name: np.array([read_level(r, severity=s, patient_id=p, level=lv, seed=5) for p, lv, s in levels])
        for r in panel
    }
    seniors = [r.name for r in panel if r.experience == "senior"]
    juniors = [r.name for r in panel if r.experience == "junior"]
    ss = np.mean([cohen_kappa_score(grades[a], grades[b]) for a, b in itertools.combinations(seniors, 2)])
    js = np.mean([cohen_kappa_score(grades[j], grades[s]) for j in juniors for s in seniors])
    assert 0.74 <= ss <= 0.88, ss
    assert 0.6 <= js <= 0.74, js
    truth = np.array([int(s) if s < 3 else 3 for _, _, s in levels])
    for name, g in grades.items():
        wrong = g != truth
        assert (np.abs(g - truth)[wrong] == 1).mean() > 0.95, f"{name}: errors are mostly one grade off"
    again = read_level(panel[0], severity=levels[7][2], patient_id=levels[7][0], level=levels[7][1], seed=5)
    assert again == grades[panel[0].name][7], "deterministic per seed, whatever the order"


def test_oracle_on_a_hand_made_cohort():
    def level(grade, ap):
        return {
            "grade": grade,
            "canal_ap_mm": ap,
            "bony_canal_ap_mm": 17.0,
            "torg_pavlov": 1.0,
            "occupying_ratio": 0.1,
        }

    patients = [
        {
            "patient_id": f"P{i}",
            "levels": [level(g, 14 - 3 * g + 0.1 * i) for g in range(4) for _ in range(5)],
        }
        for i in range(10)
    ]
    result = oracle_accuracy({"patients": patients})
    assert result["accuracy_4grade"] == 1.0 and result["accuracy_binary"] == 1.0
    patients[0]["levels"][0]["grade"] = 3  # one label the rule cannot get
    assert oracle_accuracy({"patients": patients})["accuracy_4grade"] < 1.0
    # Fitted on patients P1-P9 and scored on P0 alone: P0's one odd label is 1 of its 20 levels.
    fitted = oracle_on_patients(
        {"patients": patients}, fit_on=[f"P{i}" for i in range(1, 10)], score_on=["P0"]
    )
    assert fitted == {"accuracy_4grade": 0.95, "accuracy_binary": 0.95, "n_levels": 20}
    cut = canal_cut_on_patients(
        {"patients": patients}, fit_on=[f"P{i}" for i in range(1, 10)], score_on=["P0"]
    )
    assert 8.9 < cut["cut_mm"] < 11.1 and (cut["accuracy_binary"], cut["n_levels"]) == (0.95, 20), cut
    other_cohort = {"patients": patients[1:3]}
    assert (
        oracle_on_patients({"patients": patients}, fit_on=["P3", "P4"], score_manifest=other_cohort)[
            "n_levels"
        ]
        == 40
    )
    with pytest.raises(ValueError, match="levels to fit on"):
        oracle_on_patients({"patients": patients}, fit_on=["nobody"])


def test_cord_ceiling_gains_what_the_patients_cord_decides():
    # Grade >= 2 iff the canal falls under the patient's own cord: 7.5 mm for half the patients,
    # 8.5 mm for the others, so canal APs between the two are significant only in the latter.
    def patient(i):
        cord = 7.5 if i % 2 else 8.5
        canals = [6.0, 7.0, 7.8, 8.2, 9.0, 10.0]
        return {
            "patient_id": f"P{i:02d}",
            "cord_ap_mm": cord,
            "levels": [
                {
                    "grade": 2 if ap < cord else 0,
                    "canal_ap_mm": ap,
                    "bony_canal_ap_mm": 15.0,
                    "torg_pavlov": 1.0,
                    "occupying_ratio": 0.1,
                }
                for ap in canals
            ],
        }

    manifest = {"patients": [patient(i) for i in range(20)]}
    result = cord_ceiling(manifest, error_sds=[0.0, 3.0])
    assert result["levels"] == 120 and result["cord_ap_spread_sd_mm"] == 0.5
    assert result["canal_ap_minus_true_cord_ap"] == 1.0
    assert result["canal_ap_alone"] <= 1 - 20 / 120 + 1e-9  # 7.8 and 8.2 mm: one patient in two is wrong
    assert result["canal_ap_minus_measured_cord_ap"]["0.0"] == 1.0
    assert result["canal_ap_minus_measured_cord_ap"]["3.0"] < 1.0  # a measurement this poor loses it


def test_oracle_ceiling_is_high_but_not_perfect(population):
    patients = [
        {
            "patient_id": str(i),
            "levels": [{"grade": t.grade, **a.level_measures(k)} for k, t in enumerate(a.truths)],
        }
        for i, a in enumerate(population)
    ]
    result = oracle_accuracy({"patients": patients})
    assert 0.88 <= result["accuracy_4grade"] <= 0.97, result
    assert 0.95 <= result["accuracy_binary"] <= 0.995, result


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_same_seed_same_files_whatever_the_workers(tmp_path):
    one = generate_cohort(CohortConfig(out=tmp_path / "a", patients=2, seed=TINY_SEED, image_size=96))
    two = generate_cohort(
        CohortConfig(out=tmp_path / "b", patients=2, seed=TINY_SEED, image_size=96, workers=2)
    )
    assert json.dumps(one) == json.dumps(two)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    other = generate_cohort(CohortConfig(out=tmp_path / "c", patients=1, seed=TINY_SEED + 1, image_size=96))
    assert other["patients"][0]["levels"] != one["patients"][0]["levels"]


def test_cli_with_a_shifted_scanner(tmp_path):
    out = tmp_path / "shifted"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ml.synthetic",
            "--out",
            str(out),
            "--patients",
            "2",
            "--seed",
            "3",
            "--image-size",
            "96",
            "--shift",
            "other",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["patients"] == 2 and sum(summary["grade_counts"].values()) == 12
    assert "patient" in result.stderr, "a progress bar on stderr"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scanner_profile"] == "other"
    scanner = manifest["patients"][0]["ct"]["scanner"]
    assert scanner["manufacturer"] == "OTHER VENDOR" and scanner["slice_thickness_mm"] < 2.0
    ds = pydicom.dcmread(next((out / manifest["patients"][0]["ct"]["path"]).glob("*.dcm")))
    assert ds.Manufacturer == "OTHER VENDOR" and ds.ConvolutionKernel == scanner["kernel"]

    bad = subprocess.run(
        [sys.executable, "-m", "ml.synthetic", "--out", str(tmp_path / "x"), "--patients", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "at least one patient" in bad.stderr
