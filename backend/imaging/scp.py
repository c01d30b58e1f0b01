"""A DICOM C-STORE SCP (pynetdicom): what a PACS or a modality sends arrives here, into one project.

Each instance is checked as it arrives (the same checks as any upload): one the platform cannot
use gets a failure status with the reason in the ErrorComment, never a silent drop. Accepted ones
are staged; when the association ends they are ingested as one job (de-identification, pairing,
cases, level finding: everything an upload gets). C-ECHO answers. `manage.py dicom_scp` runs it.
"""

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections
from pydicom.dataset import Dataset
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification

from backend.imaging.dicom.files import check_content
from backend.imaging.dicom.header import DicomRejected
from backend.imaging.models import IngestJob
from backend.imaging.services import ingest_job_create, ingest_job_run, staging_dir_create
from backend.projects.models import Project

logger = logging.getLogger(__name__)

SUCCESS = 0x0000
CANNOT_UNDERSTAND = 0xC000  # PS3.4 Annex B: failure, "cannot understand"
OUT_OF_RESOURCES = 0xA700


@dataclass
class _Association:
    staging: Path
    files: list[Path] = field(default_factory=list)


@dataclass
class ScpConfig:
    ae_title: str
    host: str
    port: int
    allowed_aes: list[str]

    @classmethod
    def from_settings(cls) -> "ScpConfig":
        return cls(
            ae_title=settings.DICOM_SCP_AE,
            host=settings.DICOM_SCP_HOST,
            port=settings.DICOM_SCP_PORT,
            allowed_aes=list(settings.DICOM_SCP_ALLOWED_AES),
        )


class StoreScp:
    """The SCP for one project: `start()` serves in the background, `serve()` in the foreground."""

    def __init__(self, *, project: Project, config: ScpConfig | None = None) -> None:
        self.project, self.config = project, config or ScpConfig.from_settings()
        self.jobs: list[int] = []  # the ingest jobs made, one per association that stored anything
        self._associations: dict[int, _Association] = {}
        self._lock = threading.Lock()
        self._server = None
        ae = AE(ae_title=self.config.ae_title)
        ae.supported_contexts = AllStoragePresentationContexts
        ae.add_supported_context(Verification)
        if self.config.allowed_aes:
            ae.require_called_aet = True
            ae.require_calling_aet = self.config.allowed_aes
        self.ae = ae
        self.handlers = [
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_C_ECHO, lambda event: SUCCESS),
            (evt.EVT_RELEASED, self._on_end),
            (evt.EVT_ABORTED, self._on_end),
        ]

    def start(self) -> None:
        self._server = self.ae.start_server(
            (self.config.host, self.config.port), block=False, evt_handlers=self.handlers
        )

    def serve(self) -> None:
        self.ae.start_server((self.config.host, self.config.port), block=True, evt_handlers=self.handlers)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def _on_store(self, event) -> int | Dataset:
        try:
            content = event.encoded_dataset()  # the instance as a DICOM file, meta header included
            check_content(content)
        except DicomRejected as rejected:
            logger.warning("C-STORE from %s refused: %s", event.assoc.requestor.ae_title, rejected)
            return _failure(CANNOT_UNDERSTAND, f"{rejected.code}: {rejected.message}")
        except Exception as error:  # an instance pydicom cannot even encode back
            return _failure(CANNOT_UNDERSTAND, f"malformed: {error}")
        with self._lock:
            received = self._associations.get(id(event.assoc))
            if received is None:
                received = self._associations[id(event.assoc)] = _Association(staging_dir_create())
            path = received.staging / f"{len(received.files):06d}.dcm"  # never a name from the file
            received.files.append(path)
        try:
            path.write_bytes(content)
        except OSError as error:
            logger.exception("C-STORE: could not stage an instance")
            return _failure(OUT_OF_RESOURCES, f"could not store: {error.strerror}")
        return SUCCESS

    def _on_end(self, event) -> None:
        with self._lock:
            received = self._associations.pop(id(event.assoc), None)
        if received is None or not received.files:
            return
        close_old_connections()
        try:
            job = ingest_job_create(
                source=IngestJob.Source.DIMSE, project=self.project, staging_dir=received.staging
            )
            ingest_job_run(job=job)
            self.jobs.append(job.pk)
            logger.info(
                "association from %s: %s stored, %s duplicates, %s rejected (ingest job %s)",
                event.assoc.requestor.ae_title,
                job.stored,
                job.duplicates,
                job.failed,
                job.pk,
            )
        finally:
            close_old_connections()


def _failure(status: int, comment: str) -> Dataset:
    reply = Dataset()
    reply.Status = status
    reply.ErrorComment = comment[:64]
    return reply
