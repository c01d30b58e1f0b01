"""A reading's grades as a DICOM Comprehensive SR (TID 1500 Measurement Report), built with highdicom.

Coding: the private scheme 99SPINE (declared in the SR's Coding Scheme Identification Sequence)
codes the six levels (finding sites C2-C3 .. C7-T1), the Kang grade concept (KANG) and its four
values (KANG-0 .. KANG-3), stenosis of the cervical canal (finding type CANAL-STENOSIS), the
binary concept (SIGNIFICANT, valued with SNOMED CT Yes/No) and the reader's experience
(role in organization JUNIOR-READER / SENIOR-READER). Procedures reported are LOINC CT and MRI
of unspecified body region. The SR joins the CT study (same Study Instance UID, patient module
from the stored CT), lists every CT instance as current evidence and every MR instance as
pertinent other evidence. UIDs derive from the reading, so exporting the same reading twice
yields the same SOP Instance UID (a PACS keeps one copy).
"""

import logging
from io import BytesIO

import highdicom as hd
from highdicom.coding_schemes import CodingSchemeIdentificationItem
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from backend.common.levels import LEVELS
from backend.exports.selectors import ReadingForReport

# highdicom logs every module it copies at INFO; one export would fill the log with them.
logging.getLogger("highdicom").setLevel(logging.WARNING)

SCHEME = "99SPINE"
SCHEME_NAME = "Cervical spine stenosis labeling platform"
PLATFORM = "Cervical stenosis labeling platform"
SR_SERIES_NUMBER = 9901

KANG_CONCEPT = Code("KANG", SCHEME, "Kang grade of cervical spinal canal stenosis")
KANG_GRADES = {  # code meanings are at most 64 characters (DICOM LO)
    0: Code("KANG-0", SCHEME, "Kang grade 0: no canal narrowing"),
    1: Code("KANG-1", SCHEME, "Kang grade 1: >50% of subarachnoid space obliterated"),
    2: Code("KANG-2", SCHEME, "Kang grade 2: cord deformity, no signal change"),
    3: Code("KANG-3", SCHEME, "Kang grade 3: T2 hyperintense cord signal"),
}
SIGNIFICANT_CONCEPT = Code("SIGNIFICANT", SCHEME, "Significant stenosis (Kang grade 2 or more)")
FINDING_TYPE = Code("CANAL-STENOSIS", SCHEME, "Cervical spinal canal stenosis")
_LEVEL_VALUES = {
    "C2/3": "C2-C3",
    "C3/4": "C3-C4",
    "C4/5": "C4-C5",
    "C5/6": "C5-C6",
    "C6/7": "C6-C7",
    "C7/T1": "C7-T1",
}
LEVEL_CODES = {level: Code(_LEVEL_VALUES[level], SCHEME, f"{level} disc level") for level in LEVELS}

EXPERIENCE_CODES = {
    "junior": Code("JUNIOR-READER", SCHEME, "Junior reader"),
    "senior": Code("SENIOR-READER", SCHEME, "Senior reader"),
}


def _evidence(*, reading: ReadingForReport, instances: list[dict], study) -> list[Dataset]:
    """Header-only datasets of the referenced instances, from the database (no file is read)."""
    patient = reading.case.pair.patient
    out = []
    for i in instances:
        ds = Dataset()
        ds.SOPClassUID, ds.SOPInstanceUID = i["sop_class_uid"], i["sop_uid"]
        ds.StudyInstanceUID, ds.SeriesInstanceUID = i["study_uid"], i["series_uid"]
        ds.PatientID, ds.PatientName = patient.patient_id, patient.name
        ds.PatientBirthDate = patient.birth_date
        ds.PatientSex = patient.sex if patient.sex in ("M", "F", "O") else ""
        ds.StudyID = ""
        ds.StudyDate = study.study_date.strftime("%Y%m%d") if study.study_date else ""
        ds.StudyTime = (study.study_time or "").split(".")[0] if study.study_time else ""
        ds.AccessionNumber = study.accession_number
        ds.ReferringPhysicianName = ""
        if study.description:
            ds.StudyDescription = study.description
        out.append(ds)
    return out


def _observer_name(user) -> str:
    if user.last_name or user.first_name:
        return f"{user.last_name}^{user.first_name}"
    return f"{user.username}^"  # one component: the login name as family name


def sr_uids(*, reading: ReadingForReport) -> tuple[str, str]:
    """(series UID, SOP instance UID) of a reading's SR: the same reading always gets the same ones."""
    a = reading.assignment
    sources = [
        "spine-sr",
        str(a.pk),
        a.submitted_at.isoformat() if a.submitted_at else "",
        reading.case.pair.ct_study.study_uid,
    ]
    return generate_uid(entropy_srcs=[*sources, "series"]), generate_uid(entropy_srcs=[*sources, "instance"])


def reading_structured_report(*, reading: ReadingForReport) -> hd.sr.ComprehensiveSR:
    case, assignment = reading.case, reading.assignment
    ct_study, mr_study = case.pair.ct_study, case.pair.mr_study
    if not reading.ct_instances:
        raise ValueError("the CT study has no stored instances to reference")
    reader = assignment.reader
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name=_observer_name(reader),
            login_name=reader.username,
            organization_name=PLATFORM,
            role_in_organization=EXPERIENCE_CODES.get(reading.reader_experience or ""),
        ),
    )
    procedures = [codes.LN.CTUnspecifiedBodyRegion]
    if mr_study is not None:
        procedures.append(codes.LN.MRIUnspecifiedBodyRegion)
    series_uid, sop_uid = sr_uids(reading=reading)
    groups = []
    for level in LEVELS:
        grade = reading.grades[level]
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=generate_uid(entropy_srcs=[sop_uid, level]), identifier=f"{level} case {case.pk}"
                ),
                finding_type=FINDING_TYPE,
                finding_sites=[hd.sr.FindingSite(anatomic_location=LEVEL_CODES[level])],
                qualitative_evaluations=[
                    hd.sr.QualitativeEvaluation(name=KANG_CONCEPT, value=KANG_GRADES[grade]),
                    hd.sr.QualitativeEvaluation(
                        name=SIGNIFICANT_CONCEPT, value=codes.SCT.Yes if grade >= 2 else codes.SCT.No
                    ),
                ],
            )
        )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=procedures,
        imaging_measurements=groups,
    )
    evidence = _evidence(reading=reading, instances=reading.ct_instances, study=ct_study)
    if mr_study is not None:
        evidence += _evidence(reading=reading, instances=reading.mr_instances, study=mr_study)
    sr = hd.sr.ComprehensiveSR(
        evidence=evidence,
        content=report[0],
        series_instance_uid=series_uid,
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer=PLATFORM,
        series_description="Cervical stenosis grades (Kang)",
        is_complete=True,
        is_final=False,
        is_verified=False,
        record_evidence=True,
        coding_schemes=[CodingSchemeIdentificationItem(designator=SCHEME, name=SCHEME_NAME)],
    )
    if assignment.submitted_at is not None:
        sr.ContentDate = assignment.submitted_at.strftime("%Y%m%d")
        sr.ContentTime = assignment.submitted_at.strftime("%H%M%S")
    return sr


def structured_report_bytes(*, reading: ReadingForReport) -> bytes:
    buffer = BytesIO()
    reading_structured_report(reading=reading).save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
