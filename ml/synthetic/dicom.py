"""Write the rendered images as standard DICOM series (CT Image Storage, MR Image Storage)."""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

UID_PREFIX = "1.2.826.0.1.3680043.10.1789."  # deterministic UIDs: hashed from the cohort seed
HU_INTERCEPT = -1024


def make_uid(*parts: object) -> str:
    return generate_uid(prefix=UID_PREFIX, entropy_srcs=[str(p) for p in parts])


@dataclass(frozen=True)
class PatientIdentity:
    patient_id: str
    name: str
    birth_date: str
    sex: str
    age: int


@dataclass(frozen=True)
class StudyInfo:
    study_uid: str
    frame_of_reference_uid: str
    study_date: date
    accession: str
    description: str


def _base_dataset(sop_class: str, sop_uid: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.SpecificCharacterSet = "ISO_IR 100"
    return ds


def _patient_and_study(ds: Dataset, patient: PatientIdentity, study: StudyInfo, modality: str) -> None:
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    ds.PatientAge = f"{patient.age:03d}Y"
    ds.StudyInstanceUID = study.study_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study.study_date.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "093000" if modality == "CT" else "141500"
    ds.AccessionNumber = study.accession
    ds.StudyID = study.accession[-6:]
    ds.StudyDescription = study.description
    ds.ReferringPhysicianName = ""
    ds.FrameOfReferenceUID = study.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.Modality = modality
    ds.BodyPartExamined = "CSPINE"
    ds.PatientPosition = "HFS"


def _pixels(ds: Dataset, pixels: np.ndarray, *, signed: bool) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 16 if signed else 12
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()


def write_ct_series(
    folder: Path,
    volume_hu: np.ndarray,
    *,
    patient: PatientIdentity,
    study: StudyInfo,
    series_uid: str,
    x0: float,
    y0: float,
    z_positions: np.ndarray,
    spacing: float,
    acquisition,
) -> list[Path]:
    """One axial CT image per slice, superior first; stored values are HU - RescaleIntercept."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, z in enumerate(z_positions):
        sop_uid = make_uid(series_uid, k)
        ds = _base_dataset(CTImageStorage, sop_uid)
        _patient_and_study(ds, patient, study, "CT")
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.Manufacturer = acquisition.manufacturer
        ds.ManufacturerModelName = acquisition.model
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = 2
        ds.SeriesDescription = f"C-SPINE {acquisition.slice_thickness_mm:g}mm {acquisition.kernel}"
        ds.InstanceNumber = k + 1
        ds.AcquisitionNumber = 1
        ds.ImagePositionPatient = [round(x0, 4), round(y0, 4), round(float(z), 4)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceLocation = round(float(z), 4)
        ds.PixelSpacing = [spacing, spacing]
        ds.SliceThickness = acquisition.slice_thickness_mm
        ds.SpacingBetweenSlices = acquisition.slice_thickness_mm
        ds.KVP = acquisition.kvp
        ds.ConvolutionKernel = acquisition.kernel
        ds.RescaleIntercept = HU_INTERCEPT
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.WindowCenter, ds.WindowWidth = [400, 40], [1800, 400]
        _pixels(ds, (volume_hu[k].astype(np.int32) - HU_INTERCEPT).astype(np.uint16), signed=False)
        ds.BitsStored, ds.HighBit = 16, 15
        path = folder / f"CT{k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_mr_series(
    folder: Path,
    images: np.ndarray,
    planes,
    *,
    patient: PatientIdentity,
    study: StudyInfo,
    series_uid: str,
    series_number: int,
    description: str,
    acquisition,
    prefix: str,
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, (image, plane) in enumerate(zip(images, planes, strict=True)):
        sop_uid = make_uid(series_uid, k)
        ds = _base_dataset(MRImageStorage, sop_uid)
        _patient_and_study(ds, patient, study, "MR")
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
        ds.Manufacturer = acquisition.manufacturer
        ds.ManufacturerModelName = acquisition.model
        ds.MagneticFieldStrength = acquisition.field_strength_t
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = series_number
        ds.SeriesDescription = description
        ds.InstanceNumber = k + 1
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "SK"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = "2D"
        ds.SequenceName = "tse2d1_15"
        ds.RepetitionTime = 3500
        ds.EchoTime = 95
        ds.EchoTrainLength = 15
        ds.ImagePositionPatient = [round(float(v), 4) for v in plane.position]
        ds.ImageOrientationPatient = [round(float(v), 6) for v in (*plane.row_dir, *plane.col_dir)]
        ds.SliceLocation = round(float(np.dot(plane.position, plane.normal)), 4)
        ds.PixelSpacing = [plane.pixel_mm, plane.pixel_mm]
        ds.SliceThickness = plane.thickness_mm
        ds.WindowCenter, ds.WindowWidth = 600, 1200
        _pixels(ds, image, signed=False)
        path = folder / f"{prefix}{k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
