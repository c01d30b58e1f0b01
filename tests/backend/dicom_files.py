"""Real DICOM files written with pydicom, good and broken, for ingest and DICOMweb tests."""

from datetime import date
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid


def write_image(
    path: Path,
    *,
    patient_id: str = "PAT-1",
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_uid: str | None = None,
    modality: str = "CT",
    z: float = 0.0,
    size: int = 32,
    instance: int = 1,
    study_date: date = date(2025, 3, 1),
    spacing: float = 0.5,
    patient_name: str = "DOE^JANE",
) -> Dataset:
    """One small axial image, with everything a viewer needs; returns the dataset written."""
    sop_class = CTImageStorage if modality == "CT" else MRImageStorage
    sop_uid = sop_uid or generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    ds.PatientID, ds.PatientName, ds.PatientBirthDate, ds.PatientSex = (
        patient_id,
        patient_name,
        "19600101",
        "F",
    )
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.FrameOfReferenceUID = generate_uid(entropy_srcs=[ds.StudyInstanceUID])
    ds.StudyDate = study_date.strftime("%Y%m%d")
    ds.StudyTime, ds.AccessionNumber, ds.StudyDescription = "101010", "ACC1", "C-SPINE"
    ds.InstitutionName, ds.ReferringPhysicianName = "General Hospital", "HOUSE^GREGORY"
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = modality, 1, instance
    ds.ImagePositionPatient = [0.0, 0.0, z]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing, ds.SliceThickness = [spacing, spacing], 2.0
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    if modality == "CT":
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ramp = (np.arange(size * size, dtype=np.uint16).reshape(size, size) * 3 + instance) % 4000
    ds.PixelData = ramp.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return ds


def write_series(folder: Path, n: int, **kwargs) -> list[Dataset]:
    study_uid, series_uid = kwargs.pop("study_uid", generate_uid()), kwargs.pop("series_uid", generate_uid())
    return [
        write_image(
            folder / f"IM{k:04d}.dcm",
            study_uid=study_uid,
            series_uid=series_uid,
            z=-2.0 * k,
            instance=k + 1,
            **kwargs,
        )
        for k in range(n)
    ]


def write_truncated(path: Path) -> None:
    write_image(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 700])


def write_not_dicom(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("this is a radiology report, not an image\n")


def write_without_pixels(path: Path) -> None:
    ds = write_image(path)
    del ds.PixelData
    ds.save_as(path, enforce_file_format=True)


def write_other_modality(path: Path, modality: str = "US") -> None:
    ds = write_image(path)
    ds.Modality = modality
    ds.save_as(path, enforce_file_format=True)


def compressed_sample(name: str, path: Path, *, modality: str = "MR") -> Dataset:
    """A compressed file from pydicom's bundled test data, made into a study of ours."""
    ds = pydicom.dcmread(get_testdata_file(name))
    ds.Modality = modality
    ds.PatientID = "PAT-COMP"
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        setattr(ds, keyword, generate_uid())
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)
    return ds
