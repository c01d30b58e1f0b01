"""De-identification at ingest after DICOM PS3.15 Annex E, Basic Application Level Confidentiality
Profile: direct identifiers removed or replaced, UIDs replaced by ones derived from the original
with a secret (so re-ingesting the same file maps to the same UIDs), a pseudonym for the patient.
"""

import hashlib
import hmac

from pydicom.dataset import Dataset

UID_PREFIX = "2.25."  # UUID-derived UIDs, as PS3.5 B.2 allows
REMOVE = (
    "PatientBirthTime",
    "OtherPatientIDs",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PatientMotherBirthName",
    "MilitaryRank",
    "EthnicGroup",
    "PatientComments",
    "MedicalRecordLocator",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers",
    "PhysiciansOfRecord",
    "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy",
    "OperatorsName",
    "StationName",
    "DeviceSerialNumber",
    "RequestingPhysician",
    "RequestAttributesSequence",
    "AdmittingDiagnosesDescription",
    "AdditionalPatientHistory",
    "PatientSize",
    "PatientWeight",
    "Occupation",
    "CountryOfResidence",
    "RegionOfResidence",
    "ImageComments",
)
EMPTY = ("ReferringPhysicianName", "StudyID", "AccessionNumber", "PatientBirthDate")
UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")


def pseudonym_for(patient_id: str, *, secret: str) -> str:
    digest = hmac.new(secret.encode(), patient_id.encode(), hashlib.sha256).hexdigest()
    return f"ANON-{digest[:12].upper()}"


def mapped_uid(uid: str, *, secret: str) -> str:
    """A 2.25 UID (PS3.5 B.2) from a keyed hash of the original: the same input, the same UID."""
    if not uid:
        return uid
    digest = hmac.new(secret.encode(), uid.encode(), hashlib.sha256).digest()
    return UID_PREFIX + str(int.from_bytes(digest[:16], "big"))


def deidentify(ds: Dataset, *, secret: str) -> tuple[str, str, str]:
    """De-identify in place; returns (pseudonym, original patient id, original patient name)."""
    original_id, original_name = str(ds.get("PatientID", "")), str(ds.get("PatientName", ""))
    pseudonym = pseudonym_for(original_id, secret=secret)
    ds.PatientID = pseudonym
    ds.PatientName = pseudonym
    for keyword in REMOVE:
        if keyword in ds:
            delattr(ds, keyword)
    for keyword in EMPTY:
        if keyword in ds:
            setattr(ds, keyword, "")
    for keyword in UID_KEYWORDS:
        if keyword in ds:
            setattr(ds, keyword, mapped_uid(str(ds.get(keyword)), secret=secret))
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.remove_private_tags()
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "PS3.15 E.1 Basic Profile; UIDs remapped"
    return pseudonym, original_id, original_name
