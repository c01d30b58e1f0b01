"""DICOMweb under /dicomweb/: QIDO-RS search, WADO-RS retrieve (instances, metadata, frames,
rendered) and STOW-RS store, enough for Cornerstone3D's loader, OHIF and dicomweb-client."""

import hashlib
import io
import json
from collections.abc import Callable

import numpy as np
import pydicom
from django.core.cache import cache
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.cache import get_conditional_response
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from backend.common.exceptions import ApplicationError
from backend.common.inputs import PAGE_MAX, QueryInput
from backend.common.schema import errors
from backend.imaging import selectors, services
from backend.imaging.dicom import render
from backend.imaging.dicom.multipart import (
    MultipartError,
    boundary_of,
    file_chunks,
    multipart_stream,
    new_boundary,
    split_parts,
)
from backend.imaging.dicom_json import dicom_element, instance_json, series_json, study_json
from backend.imaging.models import IngestJob, Instance
from backend.projects.permissions import IsProjectAdmin

DICOM_JSON = "application/dicom+json"
UNCOMPRESSED = "1.2.840.10008.1.2.1"
DATASETS = {"type": "array", "items": {"type": "object"}}  # DICOM JSON: one object per study, series, ...
STOW_PROJECT = OpenApiParameter(
    "project",
    str,
    required=True,
    description="the project (one you are an admin of) the studies go into; a platform admin may leave it out",
)
# STOW-RS: the store report (PS3.18 10.5.3): 200 all stored, 202 some, 409 none; 404: no such project.
STOW_RESPONSES = {
    **{(status, DICOM_JSON): OpenApiTypes.OBJECT for status in (200, 202, 409)},
    **errors(404),
}


class AnyMediaRenderer(BaseRenderer):
    """Lets DICOMweb's Accept headers (multipart/related, image/png, ...) through DRF's negotiation."""

    media_type = "*/*"
    format = "dicomweb"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode() if data is not None else b""


def _json_response(payload, status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(payload), content_type=DICOM_JSON, status=status)


class PagingQuery(QueryInput):
    offset = serializers.IntegerField(min_value=0, max_value=PAGE_MAX, default=0)
    limit = serializers.IntegerField(min_value=0, max_value=PAGE_MAX, required=False, help_text="0: no limit")


def _paged(request: Request, items):
    paging = PagingQuery(data=request.query_params)
    paging.is_valid(raise_exception=True)
    offset, limit = paging.validated_data["offset"], paging.validated_data.get("limit")
    return items[offset : offset + limit] if limit else items[offset:]


class DicomwebView(APIView):
    renderer_classes = [AnyMediaRenderer]

    def finalize_response(self, request: Request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(response, "exception", False):
            response.content_type = "application/json"  # the error body, whatever the Accept header
        return response


QIDO_PARAMS = [
    *(
        OpenApiParameter(name, str, required=False)
        for name in (
            "PatientID",
            "PatientName",
            "StudyDate",
            "StudyInstanceUID",
            "AccessionNumber",
            "ModalitiesInStudy",
        )
    ),
    PagingQuery,
]


class StudiesView(DicomwebView):
    @extend_schema(
        operation_id="qido_studies",
        parameters=QIDO_PARAMS,
        responses={(200, DICOM_JSON): DATASETS},
    )
    def get(self, request: Request) -> HttpResponse:
        studies = selectors.study_search(user=request.user, filters=request.query_params)
        return _json_response([study_json(s) for s in _paged(request, studies)])

    @extend_schema(
        operation_id="stow_studies",
        request={"multipart/related": OpenApiTypes.BINARY},
        parameters=[STOW_PROJECT],
        responses=STOW_RESPONSES,
    )
    def post(self, request: Request) -> HttpResponse:
        return _stow(request, study_uid=None)


class StudyView(DicomwebView):
    @extend_schema(operation_id="wado_study", responses={(200, "multipart/related"): OpenApiTypes.BINARY})
    def get(self, request: Request, study: str) -> HttpResponse:
        instances = Instance.objects.filter(
            series__study=selectors.study_get(user=request.user, study_uid=study)
        )
        return _retrieve(instances)

    @extend_schema(
        operation_id="stow_study",
        request={"multipart/related": OpenApiTypes.BINARY},
        parameters=[STOW_PROJECT],
        responses=STOW_RESPONSES,
    )
    def post(self, request: Request, study: str) -> HttpResponse:
        return _stow(request, study_uid=study)


class StudySeriesView(DicomwebView):
    @extend_schema(
        operation_id="qido_study_series",
        responses={(200, DICOM_JSON): DATASETS},
        parameters=[OpenApiParameter("Modality", str, required=False), PagingQuery],
    )
    def get(self, request: Request, study: str) -> HttpResponse:
        found = selectors.study_get(user=request.user, study_uid=study)
        series = found.series.select_related("study").order_by("series_number")
        if modality := request.query_params.get("Modality"):
            series = series.filter(modality=modality)
        return _json_response([series_json(s, s.instances.count()) for s in _paged(request, series)])


class SeriesView(DicomwebView):
    @extend_schema(operation_id="wado_series", responses={(200, "multipart/related"): OpenApiTypes.BINARY})
    def get(self, request: Request, study: str, series: str) -> HttpResponse:
        return _retrieve(
            selectors.series_get(user=request.user, study_uid=study, series_uid=series).instances.all()
        )


class SeriesInstancesView(DicomwebView):
    @extend_schema(
        operation_id="qido_series_instances",
        responses={(200, DICOM_JSON): DATASETS},
        parameters=[PagingQuery],
    )
    def get(self, request: Request, study: str, series: str) -> HttpResponse:
        found = selectors.series_get(user=request.user, study_uid=study, series_uid=series)
        instances = found.instances.select_related("series__study").order_by("instance_number")
        return _json_response([instance_json(i) for i in _paged(request, instances)])


class MetadataView(DicomwebView):
    """Full headers as DICOM JSON (pixel data left out), for a study, a series or an instance."""

    @extend_schema(responses={(200, DICOM_JSON): DATASETS})
    def get(self, request: Request, study: str, series: str | None = None, instance: str | None = None):
        if instance:
            found = selectors.instance_get(
                user=request.user, study_uid=study, series_uid=series, sop_uid=instance
            )
            instances = Instance.objects.filter(pk=found.pk)
        elif series:
            instances = selectors.series_get(
                user=request.user, study_uid=study, series_uid=series
            ).instances.all()
        else:
            instances = Instance.objects.filter(
                series__study=selectors.study_get(user=request.user, study_uid=study)
            )
        ordered = list(instances.order_by("series__series_number", "instance_number"))
        etag = _etag_of_many(ordered, "metadata")
        # One instance never changes; a series or a study may gain instances: revalidate each time.
        return _conditional(
            request,
            etag,
            lambda: _json_response([_metadata(i) for i in ordered]),
            policy=IMMUTABLE if instance else REVALIDATE,
        )


class InstanceView(DicomwebView):
    @extend_schema(operation_id="wado_instance", responses={(200, "multipart/related"): OpenApiTypes.BINARY})
    def get(self, request: Request, study: str, series: str, instance: str) -> HttpResponse:
        found = selectors.instance_get(
            user=request.user, study_uid=study, series_uid=series, sop_uid=instance
        )
        return _retrieve([found])


class FramesView(DicomwebView):
    @extend_schema(operation_id="wado_frames", responses={(200, "multipart/related"): OpenApiTypes.BINARY})
    def get(self, request: Request, study: str, series: str, instance: str, frames: str) -> HttpResponse:
        found = selectors.instance_get(
            user=request.user, study_uid=study, series_uid=series, sop_uid=instance
        )
        numbers = _frame_numbers(frames, found.number_of_frames)

        def build() -> HttpResponse:
            boundary = new_boundary()
            parts = (
                (f"application/octet-stream; transfer-syntax={UNCOMPRESSED}", [d])
                for d in _frames(found, numbers)
            )
            return HttpResponse(
                b"".join(multipart_stream(parts, boundary)),
                content_type=f'multipart/related; type="application/octet-stream"; boundary={boundary}',
            )

        return _conditional(request, _etag(found, "frames", frames), build)


class RenderedView(DicomwebView):
    @extend_schema(
        responses={(200, "image/png"): OpenApiTypes.BINARY, (200, "image/jpeg"): OpenApiTypes.BINARY}
    )
    def get(self, request: Request, study: str, series: str, instance: str, frames: str | None = None):
        found = selectors.instance_get(
            user=request.user, study_uid=study, series_uid=series, sop_uid=instance
        )
        number = _frame_numbers(frames, found.number_of_frames)[0] if frames else 1
        jpeg = "image/jpeg" in request.META.get("HTTP_ACCEPT", "")
        window = request.query_params.get("window")

        def build() -> HttpResponse:
            ds = pydicom.dcmread(found.file.path)
            values = render.frame_values(ds, number=number, frames=found.number_of_frames)
            try:
                center, width = render.window_of(window, ds, values)
            except render.WindowError as error:
                raise ApplicationError(str(error), code="bad_window") from None
            body, content_type = render.encode(values, center=center, width=width, jpeg=jpeg)
            return HttpResponse(body, content_type=content_type)

        return _conditional(request, _etag(found, "rendered", number, window or "", jpeg), build)


def _frame_numbers(text: str, count: int) -> list[int]:
    try:
        numbers = [int(n) for n in text.split(",")]
    except ValueError:
        raise ApplicationError("frame numbers must be integers", code="bad_frames") from None
    if not numbers or any(n < 1 or n > count for n in numbers):
        raise ApplicationError(f"frames run from 1 to {count}", code="bad_frames", status=404)
    return numbers


def _frames(instance: Instance, numbers: list[int]) -> list[bytes]:
    """Native (uncompressed, little endian) bytes of the requested frames."""
    ds = pydicom.dcmread(instance.file.path)
    if not pydicom.uid.UID(instance.transfer_syntax_uid).is_compressed:
        size = (
            instance.rows * instance.columns * int(ds.get("SamplesPerPixel", 1)) * int(ds.BitsAllocated) // 8
        )
        return [bytes(ds.PixelData[(n - 1) * size : n * size]) for n in numbers]
    pixels = ds.pixel_array
    if instance.number_of_frames == 1:
        pixels = pixels[None]
    return [
        np.ascontiguousarray(pixels[n - 1]).astype(pixels.dtype.newbyteorder("<")).tobytes() for n in numbers
    ]


def _metadata(instance: Instance) -> dict:
    """An instance's header as DICOM JSON; a stored instance never changes, so it is kept in the cache
    under its UID, size and stored file and read from disk once."""
    key = "dicomweb:metadata:" + _etag(instance, instance.file.name).strip('"')
    payload = cache.get(key)
    if payload is None:
        ds = pydicom.dcmread(instance.file.path, stop_before_pixels=True)
        payload = ds.to_json_dict(bulk_data_threshold=1 << 20, bulk_data_element_handler=lambda element: "")
        payload["00020010"] = dicom_element("UI", instance.transfer_syntax_uid)
        cache.set(key, payload, timeout=METADATA_CACHE_S)
    return payload


# A stored instance never changes: its frames, rendering and header may be kept by the browser
# (private: never by a shared cache) and revalidated with If-None-Match for a 304.
IMMUTABLE = "private, max-age=31536000, immutable"
REVALIDATE = "private, no-cache"
METADATA_CACHE_S = 24 * 3600


def _etag(instance: Instance, *parts) -> str:
    token = ":".join(str(p) for p in (instance.sop_uid, instance.size_bytes, *parts))
    return f'"{hashlib.sha256(token.encode()).hexdigest()[:32]}"'


def _etag_of_many(instances: list[Instance], kind: str) -> str:
    digest = hashlib.sha256(kind.encode())
    for instance in instances:
        digest.update(f"{instance.sop_uid}:{instance.size_bytes};".encode())
    return f'"{digest.hexdigest()[:32]}"'


def _conditional(
    request: Request, etag: str, build: Callable[[], HttpResponse], *, policy: str = IMMUTABLE
) -> HttpResponse:
    """Django's conditional answer (304 when the client holds this version) or the response `build`
    makes; either way with the ETag and the cache policy. The permission check came before."""
    response = get_conditional_response(request, etag=etag) or build()
    response["ETag"], response["Cache-Control"] = etag, policy
    return response


def _retrieve(instances) -> StreamingHttpResponse:
    boundary = new_boundary()
    paths = [i.file.path for i in instances]
    response = StreamingHttpResponse(
        multipart_stream((("application/dicom", file_chunks(p)) for p in paths), boundary),
        content_type=f'multipart/related; type="application/dicom"; boundary={boundary}',
    )
    return response


def _stow(request: Request, *, study_uid: str | None) -> HttpResponse:
    if not IsProjectAdmin().has_permission(request, None):
        raise ApplicationError("Only admins may store studies.", code="permission_denied", status=403)
    try:
        boundary = boundary_of(request.META.get("CONTENT_TYPE", ""))
    except MultipartError as exc:
        raise ApplicationError(str(exc), code="unsupported_media_type", status=415) from None
    project = selectors.upload_project_for_user(user=request.user, slug=request.query_params.get("project"))
    staging = services.staging_dir_create()
    counter = iter(range(1 << 30))

    def open_part(headers: dict) -> io.BufferedWriter:
        return (staging / f"{next(counter):05d}.dcm").open("wb")

    try:
        split_parts(request._request, boundary, open_part)
    except MultipartError as exc:
        raise ApplicationError(f"malformed multipart body: {exc}", code="bad_multipart") from None
    failed = []
    if study_uid:  # storing into one study: parts of another study are refused before anything is stored
        for path in sorted(staging.iterdir()):
            try:
                header = pydicom.dcmread(path, stop_before_pixels=True)
            except Exception:
                continue  # the ingest report says what is wrong with it
            if str(header.get("StudyInstanceUID", "")) != study_uid:
                sop = str(header.get("SOPInstanceUID", ""))
                failed.append({"00081155": dicom_element("UI", sop), "00081197": dicom_element("US", 0xA900)})
                path.unlink()
    job = services.ingest_job_create(
        source=IngestJob.Source.STOW, project=project, user=request.user, staging_dir=staging
    )
    outcomes = []
    services.ingest_job_run(job=job, progress=outcomes.append)
    referenced = []
    for outcome in outcomes:
        if outcome.status == "rejected":
            failed.append(
                {
                    "00081155": dicom_element("UI", outcome.sop_uid),
                    "00081197": dicom_element("US", 0xC000),
                    "00081196": dicom_element("LO", f"{outcome.code}: {outcome.message}"[:64]),
                }
            )
        else:
            base = request.build_absolute_uri(f"/dicomweb/studies/{outcome.study_uid}")
            referenced.append(
                {"00081155": dicom_element("UI", outcome.sop_uid), "00081190": dicom_element("UR", base)}
            )
    payload = {}
    if referenced:
        payload["00081199"] = {"vr": "SQ", "Value": referenced}
    if failed:
        payload["00081198"] = {"vr": "SQ", "Value": failed}
    status = 200 if not failed else (202 if referenced else 409)
    return _json_response(payload, status=status)
