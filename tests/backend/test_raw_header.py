"""The direct header reader must give what pydicom gives, or step aside (None) for pydicom."""

import random
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.sequence import Sequence
from pydicom.uid import ImplicitVRLittleEndian

from backend.imaging.dicom.header import DicomRejected, check_dicom, read_dicom
from backend.imaging.dicom.raw_header import read_raw_header
from ml.synthetic import CohortConfig, generate_cohort
from tests.backend import dicom_files as F


def checked(source) -> object:
    """check_dicom's answer: the header, or the rejection code."""
    try:
        return check_dicom(source)
    except DicomRejected as exc:
        return exc.code


def by_pydicom(content: bytes) -> object:
    try:
        return checked(read_dicom(content, header_only=True))
    except DicomRejected as exc:
        return exc.code


@pytest.fixture(scope="module")
def synthetic_files(tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("cohort")
    generate_cohort(CohortConfig(out=out, patients=1, seed=3, image_size=64))
    return sorted(out.rglob("*.dcm"))


def test_plain_files_read_directly_give_what_pydicom_gives(synthetic_files, tmp_path):
    ds = F.write_image(tmp_path / "pydicom.dcm")
    ds.ReferencedImageSequence = Sequence([pydicom.Dataset(), pydicom.Dataset()])  # skipped, not read
    ds.save_as(tmp_path / "with_sequence.dcm", enforce_file_format=True)
    files = [*synthetic_files, tmp_path / "pydicom.dcm", tmp_path / "with_sequence.dcm"]
    for path in files:
        content = path.read_bytes()
        raw = read_raw_header(content)
        assert raw is not None, f"{path.name} is plain explicit VR little endian"
        assert checked(raw) == by_pydicom(content), path.name
    header = checked(read_raw_header(files[-1].read_bytes()))
    assert (header.patient_name, header.pixel_spacing, header.instance_number) == ("DOE^JANE", [0.5, 0.5], 1)


def test_files_outside_the_plain_case_are_left_to_pydicom(tmp_path):
    ds = F.write_image(tmp_path / "implicit.dcm")
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(tmp_path / "implicit.dcm", implicit_vr=True, little_endian=True)
    ds = F.write_image(tmp_path / "greek.dcm")
    ds.SpecificCharacterSet, ds.PatientName = "ISO_IR 126", "Διονυσιος"
    ds.save_as(tmp_path / "greek.dcm", enforce_file_format=True)
    F.compressed_sample("JPEG2000.dcm", tmp_path / "j2k.dcm")
    F.write_truncated(tmp_path / "truncated.dcm")
    F.write_not_dicom(tmp_path / "report.txt")
    for name in ("implicit.dcm", "greek.dcm", "j2k.dcm", "truncated.dcm", "report.txt"):
        assert read_raw_header((tmp_path / name).read_bytes()) is None, name
    assert (
        checked(read_dicom((tmp_path / "greek.dcm").read_bytes(), header_only=True)).patient_name
        == "Διονυσιος"
    )


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns about the damaged UIDs it reads
def test_damaged_files_are_read_alike_or_left_to_pydicom(synthetic_files):
    """Flipped bytes and cut files: the direct reader never accepts what pydicom would not."""
    rng = random.Random(0)
    plain = [p.read_bytes() for p in synthetic_files[:6]] + [get_testdata_file("CT_small.dcm", read=False)]
    plain = [p if isinstance(p, bytes) else Path(p).read_bytes() for p in plain]
    read_directly = 0
    for _ in range(600):
        content = bytearray(rng.choice(plain))
        if rng.random() < 0.5:
            for _ in range(rng.randint(1, 3)):
                content[rng.randrange(132, 2000)] = rng.randrange(256)
        else:
            del content[rng.randrange(132, len(content)) :]
        raw = read_raw_header(bytes(content))
        if raw is not None:
            read_directly += 1
            assert checked(raw) == by_pydicom(bytes(content))
    assert read_directly > 50, "the test must exercise the direct reader"


@pytest.mark.django_db
def test_an_unreadable_header_value_is_a_clear_rejection_not_a_crash(tmp_path):
    F.write_series(tmp_path / "good", 2)
    F.write_image(tmp_path / "bad" / "odd_vr.dcm")
    content = bytearray((tmp_path / "bad" / "odd_vr.dcm").read_bytes())
    position = content.index(b"\x20\x00\x0e\x00UI")  # SeriesInstanceUID with a VR no standard knows
    content[position + 4 : position + 6] = b"ZI"
    (tmp_path / "bad" / "odd_vr.dcm").write_bytes(bytes(content))
    assert read_raw_header(bytes(content)) is None
    from tests.backend.test_imaging import run_folder

    job = run_folder(tmp_path)
    assert (job.stored, job.failed) == (2, 1)
    assert job.errors[0]["code"] == "malformed" and "ZI" in job.errors[0]["message"]
