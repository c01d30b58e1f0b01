"""Talking to a PACS: send datasets (C-STORE or STOW-RS), find studies (C-FIND) and fetch one (C-GET).

A peer is named by a URL: `dimse://AE_TITLE@host:port` for DICOM networking, `http(s)://…/dicom-web`
for DICOMweb. Failures raise PacsError with what the peer said (or that it did not answer), so a
caller can retry and an admin can read why. No database here: callers store what comes back.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from pydicom.dataset import Dataset
from pynetdicom import AE, build_role, evt
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
)

SUCCESS, PENDING = 0x0000, (0xFF00, 0xFF01)
TIMEOUT_S = 30
# C-GET needs a storage context per class the peer may send back; the association allows 128 in
# all, so the CT and MR classes (and SR, for our own reports) are asked for.
RETRIEVED_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.2",  # CT Image
    "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT Image
    "1.2.840.10008.5.1.4.1.1.4",  # MR Image
    "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR Image
    "1.2.840.10008.5.1.4.1.1.88.33",  # Comprehensive SR
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture
)


class PacsError(Exception):
    """The peer refused, failed or did not answer."""


@dataclass(frozen=True)
class Peer:
    url: str
    scheme: str  # "dimse" or "dicomweb"
    ae_title: str = ""
    host: str = ""
    port: int = 0

    @classmethod
    def parse(cls, url: str) -> "Peer":
        parsed = urlparse(url)
        if parsed.scheme == "dimse":
            if not parsed.username or not parsed.hostname or not parsed.port:
                raise ValueError(f"{url!r}: a DICOM peer is dimse://AE_TITLE@host:port")
            if len(parsed.username) > 16:
                raise ValueError(f"{url!r}: an AE title has at most 16 characters")
            return cls(url, "dimse", parsed.username, parsed.hostname, parsed.port)
        if parsed.scheme in ("http", "https") and parsed.hostname:
            return cls(url.rstrip("/"), "dicomweb")
        raise ValueError(f"{url!r}: expected dimse://AE_TITLE@host:port or an http(s) DICOMweb root")

    def __str__(self) -> str:
        return self.url


def _associate(peer: Peer, ae: AE, **kwargs):
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT_S
    assoc = ae.associate(peer.host, peer.port, ae_title=peer.ae_title, **kwargs)
    if not assoc.is_established:
        raise PacsError(f"{peer}: association refused or no answer")
    return assoc


def datasets_send(*, peer: Peer, datasets: list[Dataset], calling_ae: str) -> None:
    """Store the datasets on the peer: every one is stored or PacsError says which was not."""
    if peer.scheme == "dicomweb":
        from dicomweb_client.api import DICOMwebClient

        try:
            DICOMwebClient(url=peer.url, chunk_size=1 << 20).store_instances(datasets)
        except Exception as exc:  # requests' and dicomweb-client's errors alike
            raise PacsError(f"{peer}: STOW-RS failed: {exc}") from exc
        return
    ae = AE(ae_title=calling_ae)
    for uid in sorted({str(ds.SOPClassUID) for ds in datasets}):
        ae.add_requested_context(uid)
    assoc = _associate(peer, ae)
    try:
        for ds in datasets:
            status = assoc.send_c_store(ds)
            code = getattr(status, "Status", None)
            if code != SUCCESS and not (code is not None and 0xB000 <= code <= 0xBFFF):  # B: warning, stored
                comment = getattr(status, "ErrorComment", "") if status else ""
                raise PacsError(
                    f"{peer}: C-STORE of {ds.SOPInstanceUID} answered "
                    f"{'nothing' if code is None else hex(code)} {comment}".rstrip()
                )
    finally:
        assoc.release()


@dataclass(frozen=True)
class FoundStudy:
    study_uid: str
    patient_id: str
    accession_number: str
    study_date: str
    modalities: str
    description: str


def studies_find(
    *, peer: Peer, calling_ae: str, accession_number: str = "", patient_id: str = ""
) -> list[FoundStudy]:
    """C-FIND at study level by accession number and/or patient id (both empty is refused: a PACS
    answers such a query with everything it holds)."""
    if not accession_number and not patient_id:
        raise ValueError("give an accession number or a patient id")
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = ""
    query.AccessionNumber = accession_number
    query.PatientID = patient_id
    query.StudyDate = ""
    query.ModalitiesInStudy = ""
    query.StudyDescription = ""
    ae = AE(ae_title=calling_ae)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = _associate(peer, ae)
    found = []
    try:
        for status, identifier in assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind):
            code = getattr(status, "Status", None)
            if code in PENDING and identifier is not None:
                modalities = identifier.get("ModalitiesInStudy", "")
                found.append(
                    FoundStudy(
                        study_uid=str(identifier.StudyInstanceUID),
                        patient_id=str(identifier.get("PatientID", "")),
                        accession_number=str(identifier.get("AccessionNumber", "")),
                        study_date=str(identifier.get("StudyDate", "")),
                        modalities="\\".join(modalities)
                        if isinstance(modalities, list | tuple)
                        else str(modalities),
                        description=str(identifier.get("StudyDescription", "")),
                    )
                )
            elif code is None or code not in (SUCCESS, *PENDING):
                raise PacsError(f"{peer}: C-FIND answered {'nothing' if code is None else hex(code)}")
    finally:
        assoc.release()
    return found


def study_get(
    *,
    peer: Peer,
    calling_ae: str,
    study_uid: str,
    into: Path,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """C-GET one study: every instance the peer sends back is written under `into`; returns the files.
    PacsError when the peer reports sub-operations that failed (the files received are kept)."""
    into.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []

    def on_store(event) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        path = into / f"{len(files):05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
        return SUCCESS

    ae = AE(ae_title=calling_ae)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    roles = []
    for uid in RETRIEVED_CLASSES:
        ae.add_requested_context(uid)
        roles.append(build_role(uid, scp_role=True))
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = study_uid
    assoc = _associate(peer, ae, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    failed = 0
    try:
        for status, _ in assoc.send_c_get(query, StudyRootQueryRetrieveInformationModelGet):
            code = getattr(status, "Status", None)
            if code is None:
                raise PacsError(f"{peer}: C-GET of {study_uid}: no answer")
            if progress and "NumberOfCompletedSuboperations" in status:
                remaining = int(status.get("NumberOfRemainingSuboperations", 0) or 0)
                done = int(status.NumberOfCompletedSuboperations or 0)
                progress(done, done + remaining)
            if code not in (SUCCESS, *PENDING):
                failed = int(status.get("NumberOfFailedSuboperations", 0) or 0) or 1
    finally:
        assoc.release()
    if failed:
        raise PacsError(
            f"{peer}: C-GET of {study_uid}: {failed} instance(s) not sent ({len(files)} received)"
        )
    return files
