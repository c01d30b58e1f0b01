"""Reading and checking one DICOM file before it is stored; the DICOM JSON model for DICOMweb."""

import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pydicom
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from backend.imaging.dicom.raw_header import RawHeader, read_raw_header

SUPPORTED_MODALITIES = ("CT", "MR")
REQUIRED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
UID_MAX_LENGTH = 64
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")


class DicomRejected(Exception):
    """This file cannot be stored; `code` names why (not_dicom, truncated, malformed, no_pixel_data, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DicomHeader:
    patient_id: str
    patient_name: str
    birth_date: str
    sex: str
    study_uid: str
    study_date: date | None
    study_time: str
    accession_number: str
    study_description: str
    series_uid: str
    series_number: int | None
    series_description: str
    frame_of_reference_uid: str
    modality: str
    sop_uid: str
    sop_class_uid: str
    instance_number: int | None
    rows: int
    columns: int
    number_of_frames: int
    pixel_spacing: list[float] | None
    slice_thickness: float | None
    image_position: list[float] | None
    image_orientation: list[float] | None
    transfer_syntax_uid: str


class CachedHeader:
    """Dataset.get through a cache of converted values keyed by their raw bytes.

    Files of one series repeat most header values byte for byte; pydicom's conversion of each
    raw element is the costly part of reading a header, so a value is converted once per job.
    """

    def __init__(self, ds: Dataset, cache: dict) -> None:
        self.ds, self.cache = ds, cache

    def get(self, keyword: str, default=None):
        tag = tag_for_keyword(keyword)
        raw = self.ds.get_item(tag) if tag is not None else None
        if raw is None:
            return default
        if isinstance(raw, RawDataElement) and isinstance(raw.value, bytes) and len(raw.value) <= 256:
            key = (tag, raw.VR, raw.value)
            if key not in self.cache:
                if len(self.cache) > 20000:
                    self.cache.clear()
                self.cache[key] = self.ds.get(keyword, default)
            return self.cache[key]
        return self.ds.get(keyword, default)


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    return str(value) if value is not None else ""


def _floats(ds: Dataset, keyword: str) -> list[float] | None:
    value = ds.get(keyword)
    return [float(v) for v in value] if value not in (None, "") else None


def _int(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def uid_valid(value: str) -> bool:
    """A UID as PS3.5 9.1 has it: at most 64 characters, digit components joined by dots, none
    empty, none with a leading zero."""
    return len(value) <= UID_MAX_LENGTH and _UID.fullmatch(value) is not None


def parse_dicom_date(value: str) -> date | None:
    try:
        return datetime.strptime(value[:8], "%Y%m%d").date() if value else None
    except ValueError:
        return None


# What check_dicom reads; parsing only these makes reading a file cheaper than a full dcmread.
HEADER_KEYWORDS = (
    "PatientID",
    "PatientName",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyDescription",
    "SeriesInstanceUID",
    "SeriesNumber",
    "SeriesDescription",
    "FrameOfReferenceUID",
    "Modality",
    "SOPInstanceUID",
    "SOPClassUID",
    "InstanceNumber",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "PixelSpacing",
    "SliceThickness",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "BitsAllocated",
    "SamplesPerPixel",
    "PixelData",
)


def read_header(content: bytes) -> Dataset | RawHeader:
    """What check_dicom needs of a file's bytes: read directly when the file is plain, else by pydicom."""
    return read_raw_header(content) or read_dicom(content, header_only=True)


def read_dicom(source: str | Path | bytes, *, header_only: bool = False) -> Dataset:
    """Read a file (or its bytes) as DICOM, or raise DicomRejected saying why not.

    header_only parses just what check_dicom needs (and the pixel data), except for compressed
    files, whose whole dataset is needed to decode them.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        ds = pydicom.dcmread(stream, specific_tags=list(HEADER_KEYWORDS) if header_only else None)
        if header_only and ds.file_meta.get("TransferSyntaxUID", UID("")).is_compressed:
            if isinstance(stream, io.BytesIO):
                stream.seek(0)
            ds = pydicom.dcmread(stream)
    except InvalidDicomError:
        raise DicomRejected("not_dicom", "not a DICOM file (no DICM preamble or readable header)") from None
    except (EOFError, OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DicomRejected("truncated", f"the file ends before its data does: {exc}") from None
    return ds


def check_dicom(ds: Dataset | RawHeader, *, cache: dict | None = None) -> DicomHeader:
    """The header fields the platform stores, after checking the file can be shown and used.

    With a cache (one per ingest job), repeated header values of a pydicom Dataset are converted once.
    """
    try:
        return _checked_header(ds, cache)
    except (NotImplementedError, ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise DicomRejected("malformed", f"a header element cannot be read: {exc}") from None


def _checked_header(ds: Dataset | RawHeader, cache: dict | None) -> DicomHeader:
    header = CachedHeader(ds, cache) if cache is not None and isinstance(ds, Dataset) else ds
    missing = [k for k in REQUIRED_UIDS if not _text(header, k)]
    if missing:
        raise DicomRejected("missing_tag", f"required attribute(s) missing: {', '.join(missing)}")
    for keyword in (*REQUIRED_UIDS, "FrameOfReferenceUID"):
        value = _text(header, keyword)
        if value and not uid_valid(value):
            raise DicomRejected(
                "invalid_uid",
                f"{keyword} {value[:80]!r} is not a valid UID (digits and dots, at most "
                f"{UID_MAX_LENGTH} characters, no leading zeros)",
            )
    modality = _text(header, "Modality")
    if modality not in SUPPORTED_MODALITIES:
        raise DicomRejected(
            "unsupported_modality", f"modality {modality or '(none)'} is not supported; expected CT or MR"
        )
    if "PixelData" not in ds:
        raise DicomRejected("no_pixel_data", "the file holds no pixel data")
    rows, columns = _int(header, "Rows"), _int(header, "Columns")
    if not rows or not columns:
        raise DicomRejected("missing_tag", "Rows and Columns are required for an image")
    frames = _int(header, "NumberOfFrames") or 1
    transfer_syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if transfer_syntax is None:
        raise DicomRejected("missing_tag", "no TransferSyntaxUID in the file meta information")
    if transfer_syntax.is_compressed:
        try:
            ds.pixel_array  # noqa: B018 - decoding proves a plugin can read it
        except Exception as exc:
            raise DicomRejected(
                "undecodable", f"compressed pixel data ({transfer_syntax.name}) cannot be decoded: {exc}"
            ) from None
    else:
        bits = _int(header, "BitsAllocated") or 16
        expected = rows * columns * frames * (_int(header, "SamplesPerPixel") or 1) * bits // 8
        if len(ds.PixelData) < expected:
            raise DicomRejected(
                "truncated",
                f"pixel data has {len(ds.PixelData)} bytes, {rows}x{columns}x{frames} needs {expected}",
            )
    return DicomHeader(
        patient_id=_text(header, "PatientID") or "UNKNOWN",
        patient_name=_text(header, "PatientName"),
        birth_date=_text(header, "PatientBirthDate"),
        sex=_text(header, "PatientSex"),
        study_uid=_text(header, "StudyInstanceUID"),
        study_date=parse_dicom_date(_text(header, "StudyDate")),
        study_time=_text(header, "StudyTime"),
        accession_number=_text(header, "AccessionNumber"),
        study_description=_text(header, "StudyDescription")[:200],
        series_uid=_text(header, "SeriesInstanceUID"),
        series_number=_int(header, "SeriesNumber"),
        series_description=_text(header, "SeriesDescription")[:200],
        frame_of_reference_uid=_text(header, "FrameOfReferenceUID"),
        modality=modality,
        sop_uid=_text(header, "SOPInstanceUID"),
        sop_class_uid=_text(header, "SOPClassUID"),
        instance_number=_int(header, "InstanceNumber"),
        rows=rows,
        columns=columns,
        number_of_frames=frames,
        pixel_spacing=_floats(header, "PixelSpacing"),
        slice_thickness=float(header.get("SliceThickness"))
        if header.get("SliceThickness") not in (None, "")
        else None,
        image_position=_floats(header, "ImagePositionPatient"),
        image_orientation=_floats(header, "ImageOrientationPatient"),
        transfer_syntax_uid=str(transfer_syntax),
    )


def geometry_mismatch(
    header: DicomHeader, *, rows: int, columns: int, pixel_spacing, orientation
) -> str | None:
    """Why this image does not fit its series' geometry, or None when it does."""
    if (header.rows, header.columns) != (rows, columns):
        return f"{header.rows}x{header.columns} image in a {rows}x{columns} series"
    if (
        pixel_spacing
        and header.pixel_spacing
        and any(abs(a - b) > 1e-3 for a, b in zip(header.pixel_spacing, pixel_spacing, strict=False))
    ):
        return f"pixel spacing {header.pixel_spacing} differs from the series' {pixel_spacing}"
    if (
        orientation
        and header.image_orientation
        and header.modality == "CT"
        and any(abs(a - b) > 1e-3 for a, b in zip(header.image_orientation, orientation, strict=False))
    ):
        return f"orientation {header.image_orientation} differs from the series' {orientation}"
    return None
