"""The DICOM JSON model (PS3.18 F.2) of what the QIDO-RS searches answer: a study, a series, an
instance, each from the rows ingest keeps (no file is opened)."""

from backend.imaging.models import Instance, Series, Study


def dicom_element(vr: str, *values) -> dict:
    """One attribute of the DICOM JSON model; empty values leave it without a Value."""
    values = [v for v in values if v not in (None, "")]
    return {"vr": vr, "Value": values} if values else {"vr": vr}


def _da(value) -> str | None:
    return value.strftime("%Y%m%d") if value else None


def study_json(study: Study) -> dict:
    return {
        "00080020": dicom_element("DA", _da(study.study_date)),
        "00080030": dicom_element("TM", study.study_time),
        "00080050": dicom_element("SH", study.accession_number),
        "00080061": dicom_element("CS", study.modality),
        "00080090": dicom_element("PN"),
        "00081030": dicom_element("LO", study.description),
        "00100010": dicom_element("PN", {"Alphabetic": study.patient.name} if study.patient.name else None),
        "00100020": dicom_element("LO", study.patient.patient_id),
        "00100030": dicom_element("DA", study.patient.birth_date),
        "00100040": dicom_element("CS", study.patient.sex),
        "0020000D": dicom_element("UI", study.study_uid),
        "00201206": dicom_element("IS", getattr(study, "n_series", None)),
        "00201208": dicom_element("IS", getattr(study, "n_instances", None)),
    }


def series_json(series: Series, n_instances: int | None = None) -> dict:
    return {
        "00080060": dicom_element("CS", series.modality),
        "0008103E": dicom_element("LO", series.description),
        "0020000D": dicom_element("UI", series.study.study_uid),
        "0020000E": dicom_element("UI", series.series_uid),
        "00200011": dicom_element("IS", series.series_number),
        "00201209": dicom_element("IS", n_instances),
    }


def instance_json(instance: Instance) -> dict:
    return {
        "00080016": dicom_element("UI", instance.sop_class_uid),
        "00080018": dicom_element("UI", instance.sop_uid),
        "0020000D": dicom_element("UI", instance.series.study.study_uid),
        "0020000E": dicom_element("UI", instance.series.series_uid),
        "00200013": dicom_element("IS", instance.instance_number),
        "00280008": dicom_element("IS", instance.number_of_frames),
        "00280010": dicom_element("US", instance.rows),
        "00280011": dicom_element("US", instance.columns),
    }
