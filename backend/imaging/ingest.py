"""Storing DICOM files in batches: each file is read and checked alone; the database sees one
duplicate query, one transaction and one bulk insert per batch, and patient/study/series rows
are looked up once per job. Large jobs have worker processes read, check and copy the files
(ingest_files.py) while this process records them. (Services call this; nothing else should.)"""

import io
import itertools
import math
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import IntegrityError, transaction

from backend.imaging.dicom.deidentify import deidentify
from backend.imaging.dicom.files import (
    PreparedFile,
    check_content,
    create_exclusive,
    prepare_files,
    read_bytes,
    stored_name,
)
from backend.imaging.dicom.header import (
    DicomHeader,
    DicomRejected,
    check_dicom,
    geometry_mismatch,
    read_dicom,
)
from backend.imaging.models import Instance, Patient, PreAnnotationRequest, PseudonymEntry, Series, Study
from backend.projects.models import Project

BATCH_SIZE = 200
WRITE_THREADS = 8
BATCHES_AHEAD = 2  # batches the worker processes prepare ahead of the database


@dataclass(frozen=True)
class IngestOutcome:
    file: str
    status: str  # stored | duplicate | rejected
    code: str = ""
    message: str = ""
    sop_uid: str = ""
    study_uid: str = ""
    patient_id: str = ""


@dataclass
class _Checked:
    name: str
    path: Path
    header: DicomHeader
    size: int
    content: bytes | None  # the file as read (or de-identified); None when a worker process read it
    written: str | None = None  # its copy in storage, when a worker process created it


@dataclass
class _SeriesState:
    series: Series
    orientation: list[float] | None


class Ingester:
    """Stores files batch by batch. With `processes`, worker processes read, check and copy the files
    a few batches ahead while this process records them in the database (large jobs)."""

    def __init__(
        self,
        *,
        project: Project | None = None,
        deidentify_data: bool = False,
        batch_size: int = BATCH_SIZE,
        processes: int = 0,
    ) -> None:
        self.project, self.deidentify, self.batch_size = project, deidentify_data, batch_size
        self.processes = (
            processes if not deidentify_data and isinstance(default_storage, FileSystemStorage) else 0
        )
        self._patients: dict[str, Patient] = {}
        self._studies: dict[str, Study] = {}
        self._series: dict[str, _SeriesState] = {}
        self._folders: set[Path] = set()
        self._values: dict = {}  # converted header values by raw bytes, shared by the job's files
        self._io = ThreadPoolExecutor(max_workers=WRITE_THREADS, thread_name_prefix="ingest-write")

    def ingest(self, files: Iterable[tuple[Path, str]]) -> Iterator[IngestOutcome]:
        """(path, display name) pairs in, one outcome per file out, in order."""
        try:
            if self.processes:
                yield from self._ingest_in_processes(files)
            else:
                for batch in _chunks(files, self.batch_size):
                    yield from self._record(len(batch), *self._check_here(batch))
        finally:
            self._io.shutdown(wait=True)

    def _ingest_in_processes(self, files: Iterable[tuple[Path, str]]) -> Iterator[IngestOutcome]:
        context = multiprocessing.get_context("forkserver")  # workers share no DB connection with us
        context.set_forkserver_preload(["backend.imaging.dicom.files"])
        media_root = str(default_storage.location)
        batches = _chunks(files, self.batch_size)
        pending: deque[tuple[list, list[Future]]] = deque()
        with ProcessPoolExecutor(max_workers=self.processes, mp_context=context) as pool:

            def submit(batch: list[tuple[Path, str]]) -> None:
                paths = [str(path) for path, _ in batch]
                step = max(1, math.ceil(len(paths) / (2 * self.processes)))
                chunks = [paths[i : i + step] for i in range(0, len(paths), step)]
                pending.append((batch, [pool.submit(prepare_files, chunk, media_root) for chunk in chunks]))

            try:
                for batch in itertools.islice(batches, BATCHES_AHEAD):
                    submit(batch)
                while pending:
                    batch, futures = pending[0]  # stays pending until its results are in hand
                    if (following := next(batches, None)) is not None:
                        submit(following)
                    prepared = [item for future in futures for item in future.result()]
                    pending.popleft()
                    yield from self._record(len(batch), *self._from_workers(batch, prepared))
            finally:  # stopped early or failed: the copies made ahead have no rows and must go
                for _, futures in pending:
                    for future in futures:
                        if not future.cancel() and future.exception() is None:
                            _delete([item.written for item in future.result() if item.written])

    # -- one batch ------------------------------------------------------------------------------
    def _check_here(
        self, batch: list[tuple[Path, str]]
    ) -> tuple[dict[int, IngestOutcome], dict[int, _Checked]]:
        outcomes: dict[int, IngestOutcome] = {}
        checked: dict[int, _Checked] = {}
        for k, (path, name) in enumerate(batch):
            try:
                checked[k] = self._check(read_bytes(path), path, name)
            except DicomRejected as exc:
                outcomes[k] = IngestOutcome(name, "rejected", exc.code, exc.message)
        return outcomes, checked

    @staticmethod
    def _from_workers(batch: list[tuple[Path, str]], prepared: list[PreparedFile]) -> tuple[dict, dict]:
        outcomes: dict[int, IngestOutcome] = {}
        checked: dict[int, _Checked] = {}
        for k, ((path, name), item) in enumerate(zip(batch, prepared, strict=True)):
            if item.header is None:
                outcomes[k] = IngestOutcome(name, "rejected", item.code, item.message)
            else:
                checked[k] = _Checked(name, path, item.header, item.size, None, item.written)
        return outcomes, checked

    # The batch's new files are created by a pool of threads while this thread waits: creating a
    # file costs ~1 ms of waiting on the disk here and creates overlap well, but threads doing I/O
    # while this one parses wait on the GIL instead (that made ingestion 3x slower).
    def _record(
        self, size: int, outcomes: dict[int, IngestOutcome], checked: dict[int, _Checked]
    ) -> list[IngestOutcome]:
        stored_before = set(
            Instance.objects.filter(sop_uid__in=[c.header.sop_uid for c in checked.values()]).values_list(
                "sop_uid", flat=True
            )
        )
        fresh: dict[int, _Checked] = {}
        seen: set[str] = set()
        for k, item in checked.items():
            uid = item.header.sop_uid
            if uid in stored_before or uid in seen:
                outcomes[k] = _duplicate(item)
                if item.written:  # a worker copied it under a name the stored one does not use
                    _delete([item.written])
            else:
                seen.add(uid)
                fresh[k] = item
        files = {k: item.written for k, item in fresh.items() if item.written}
        failure = None
        writes = {k: self._io.submit(self._copy, item) for k, item in fresh.items() if not item.written}
        for k, write in writes.items():
            try:
                files[k] = write.result()
            except OSError as exc:  # e.g. a full disk: nothing of this batch is kept
                failure = exc
        if failure is not None:
            _delete(list(files.values()))
            raise failure
        try:
            outcomes.update(self._store(fresh, files))
        except IntegrityError:
            # Another process stored some of these meanwhile: fall back to one file at a time.
            for k, item in fresh.items():
                outcomes[k] = self._one_by_one(item) if len(fresh) > 1 else _duplicate(item)
        return [outcomes[k] for k in range(size)]

    def _one_by_one(self, item: _Checked) -> IngestOutcome:
        try:
            return self._store({0: item}, {0: self._copy(item)})[0]
        except IntegrityError:
            return _duplicate(item)

    def _copy(self, item: _Checked) -> str:
        content = item.content
        if content is None:  # a worker read it, but its name was taken: stored under another name
            content = read_bytes(item.path)
            if isinstance(content, OSError):
                raise content
        return self._store_file(item.header, content)

    def _check(self, content: bytes | OSError, path: Path, name: str) -> _Checked:
        if not self.deidentify or isinstance(content, OSError):
            header = check_content(content, self._values)
            return _Checked(name, path, header, len(content), content)
        ds = read_dicom(content)
        pseudonym, original_id, original_name = deidentify(ds, secret=settings.SECRET_KEY)
        PseudonymEntry.objects.get_or_create(
            pseudonym=pseudonym,
            defaults={"original_patient_id": original_id, "original_patient_name": original_name},
        )
        header = check_dicom(ds)
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        return _Checked(name, path, header, buffer.tell(), buffer.getvalue())

    def _store(self, fresh: dict[int, _Checked], files: dict[int, str]) -> dict[int, IngestOutcome]:
        """Rows for the written files, in one transaction; a failure removes every file again."""
        outcomes: dict[int, IngestOutcome] = {}
        accepted: list[tuple[int, _Checked, _SeriesState]] = []
        try:
            with transaction.atomic():
                for k, item in fresh.items():
                    header = item.header
                    try:
                        state = self._series_state(header)
                        problem = geometry_mismatch(
                            header,
                            rows=state.series.rows,
                            columns=state.series.columns,
                            pixel_spacing=state.series.pixel_spacing,
                            orientation=state.orientation,
                        )
                        if problem:
                            raise DicomRejected(
                                "inconsistent_geometry", f"does not fit series {header.series_uid}: {problem}"
                            )
                    except DicomRejected as exc:
                        outcomes[k] = IngestOutcome(
                            item.name, "rejected", exc.code, exc.message, header.sop_uid, header.study_uid
                        )
                        continue
                    if state.orientation is None:
                        state.orientation = header.image_orientation
                    accepted.append((k, item, state))
                Instance.objects.bulk_create(
                    [_instance(item.header, state.series, files[k], item.size) for k, item, state in accepted]
                )
        except Exception:
            _delete(list(files.values()))  # the rows are gone with the transaction: so are their files
            self._forget()
            raise
        _delete([files[k] for k in outcomes])  # the rejected ones
        for k, item, _ in accepted:
            header = item.header
            outcomes[k] = IngestOutcome(
                item.name, "stored", "", "", header.sop_uid, header.study_uid, header.patient_id
            )
        return outcomes

    def _store_file(self, header: DicomHeader, content: bytes) -> str:
        """Write the file into storage; an existing file is never overwritten (a new name is chosen)."""
        name = stored_name(header)
        if isinstance(default_storage, FileSystemStorage):  # the fast path: one exclusive create and write
            target = Path(default_storage.path(name))
            if target.parent not in self._folders:
                target.parent.mkdir(parents=True, exist_ok=True)
                self._folders.add(target.parent)
            if create_exclusive(target, content):
                return name
        return default_storage.save(name, ContentFile(content))

    def _forget(self) -> None:
        """Rows created in a rolled-back transaction must not be reused from the caches."""
        self._patients.clear()
        self._studies.clear()
        self._series.clear()

    def _series_state(self, header: DicomHeader) -> _SeriesState:
        state = self._series.get(header.series_uid)
        if state is not None:
            if state.series.study.study_uid != header.study_uid:
                raise DicomRejected(
                    "inconsistent_series", f"series {header.series_uid} belongs to another study"
                )
            return state
        study = self._study(header)
        series = Series.objects.filter(series_uid=header.series_uid).first()
        orientation = None
        if series is None:  # a concurrent insert fails the batch's transaction: the batch falls back
            series = Series.objects.create(
                series_uid=header.series_uid,
                study=study,
                modality=header.modality,
                series_number=header.series_number,
                description=header.series_description,
                frame_of_reference_uid=header.frame_of_reference_uid,
                rows=header.rows,
                columns=header.columns,
                pixel_spacing=header.pixel_spacing,
                slice_thickness=header.slice_thickness,
            )
        elif series.study_id != study.id:
            raise DicomRejected("inconsistent_series", f"series {series.series_uid} belongs to another study")
        else:
            first = series.instances.only("image_orientation").first()
            orientation = first.image_orientation if first else None
        series.study = study
        state = _SeriesState(series, orientation)
        self._series[header.series_uid] = state
        return state

    def _study(self, header: DicomHeader) -> Study:
        study = self._studies.get(header.study_uid)
        if study is not None:
            if study.patient.patient_id != header.patient_id:
                raise DicomRejected(
                    "inconsistent_patient", f"study {study.study_uid} belongs to another patient"
                )
            return study
        patient = self._patients.get(header.patient_id)
        if patient is None:
            patient = Patient.objects.filter(patient_id=header.patient_id).first() or Patient.objects.create(
                patient_id=header.patient_id,
                name=header.patient_name,
                birth_date=header.birth_date,
                sex=header.sex,
            )
            self._patients[header.patient_id] = patient
        study = Study.objects.filter(study_uid=header.study_uid).first()
        created = study is None
        if created:
            study = Study.objects.create(
                study_uid=header.study_uid,
                patient=patient,
                modality=header.modality,
                study_date=header.study_date,
                study_time=header.study_time,
                accession_number=header.accession_number,
                description=header.study_description,
            )
        if study.patient_id != patient.id:
            raise DicomRejected("inconsistent_patient", f"study {study.study_uid} belongs to another patient")
        study.patient = patient
        if self.project is not None:
            study.projects.add(self.project)
        if created and study.modality == "CT":
            PreAnnotationRequest.objects.create(study=study)  # the learning loop's pre-annotation queue
        self._studies[header.study_uid] = study
        return study


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def _instance(header: DicomHeader, series: Series, file_name: str, size: int) -> Instance:
    return Instance(
        sop_uid=header.sop_uid,
        series=series,
        sop_class_uid=header.sop_class_uid,
        instance_number=header.instance_number,
        image_position=header.image_position,
        image_orientation=header.image_orientation,
        rows=header.rows,
        columns=header.columns,
        number_of_frames=header.number_of_frames,
        transfer_syntax_uid=header.transfer_syntax_uid,
        file=file_name,
        size_bytes=size,
    )


def _duplicate(item: _Checked) -> IngestOutcome:
    header = item.header
    return IngestOutcome(
        item.name,
        "duplicate",
        "duplicate",
        "this SOPInstanceUID is stored already; nothing changed",
        header.sop_uid,
        header.study_uid,
        header.patient_id,
    )
