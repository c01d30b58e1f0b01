"""Every route of the URL conf, for everyone: the status each role must get, path parameters filled
with real ids of a small platform (tests/backend/permission_data.py).

Roles: anonymous; a junior reader and a senior reader of project spine; a reader and an admin of
project other; the admin of spine; a platform admin (a superuser, member of nothing). The API and
DICOMweb are called with each role's API token, the Django admin and the browser app's shell with a
session. Each request runs in a transaction rolled back afterwards, so that no request sees another's
writes. Besides the status, no answer to anonymous or to the people of project other may hold any
of spine's patient IDs or study UIDs.

A route missing from the matrix (or a method its view has that the matrix does not call) fails
`test_every_route_and_method_is_in_the_matrix`: a new route gets its row here.

The Django admin is checked by kind of route (every registered model has the same six), GET only:
anonymous and anyone who is not staff are sent to the admin's login page; the platform admin gets
each page (a change, delete or history page of a model without rows redirects to the index).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from pydicom.uid import generate_uid
from rest_framework.test import APIClient

from backend.imaging.dicom.multipart import multipart_stream
from backend.reading.models import AnnotationEvent
from tests.backend import dicom_files as F
from tests.backend.permission_data import PASSWORD, ROLES, World, world_fixture  # noqa: F401 (the world fixture)

ANY = "anonymous", "reader", "senior", "other_reader", "other_admin", "admin", "superuser"
assert ANY == ROLES


def by_role(anonymous, reader, senior, other_reader, other_admin, admin, superuser) -> dict:
    return dict(
        zip(ROLES, (anonymous, reader, senior, other_reader, other_admin, admin, superuser), strict=True)
    )


def everyone(status, *, anonymous=None) -> dict:
    return by_role(status if anonymous is None else anonymous, *[status] * 6)


def signed_in(status) -> dict:
    """Any signed-in user; anonymous 401."""
    return everyone(status, anonymous=401)


def project_admins(ok) -> dict:
    """Spine's admin endpoints behind IsProjectAdmin: readers 403 (admins of nothing), the admin of
    another project 404 (it learns nothing of spine), spine's admin and the platform admin `ok`."""
    return by_role(401, 403, 403, 403, 404, ok, ok)


def project_admin_role(ok) -> dict:
    """Spine's admin endpoints open to members first: spine's readers 403, outsiders 404."""
    return by_role(401, 403, 403, 404, 404, ok, ok)


def project_members(ok, *, superuser=None) -> dict:
    """Anything a member of spine may read: outsiders 404."""
    return by_role(401, ok, ok, 404, 404, ok, ok if superuser is None else superuser)


def case_readers(ok) -> dict:
    """A case of spine, as a reader opens it: its members (spine's admin reads too); outsiders and the
    platform admin, who is dealt no cases, 404."""
    return by_role(401, ok, ok, 404, 404, ok, 404)


@dataclass
class Call:
    method: str
    expect: dict
    body: object = None  # a dict (JSON), or a callable(world, role, tmp) -> (data, format or content type)
    query: str = ""
    params: dict = field(default_factory=dict)  # path parameters other than world.ids


@dataclass
class Result:
    status: int
    body: bytes
    content_type: str
    extra: dict = field(default_factory=dict)


def _credentials(role: str, world: World) -> dict:
    username = world.users[role].username if role != "anonymous" else "reader"
    return {"username": username, "password": PASSWORD if role != "anonymous" else "wrong-password"}


def _upload(world: World, role: str, tmp: Path):
    F.write_image(tmp / f"upload-{role}.dcm", patient_id="UPLOAD-1")
    upload = SimpleUploadedFile("image.dcm", (tmp / f"upload-{role}.dcm").read_bytes(), "application/dicom")
    return {"files": [upload], "project": "spine"}, "multipart"


def _labels_csv(world: World, role: str, tmp: Path):
    content = b"patient_id,level,grade,reader,reader_experience\nNOBODY,C2/3,1,dr_x,senior\n"
    return {"file": SimpleUploadedFile("labels.csv", content, content_type="text/csv")}, "multipart"


def _stow(study: bool) -> Callable:
    def body(world: World, role: str, tmp: Path):
        kwargs = {"study_uid": world.ids["study"], "patient_id": world.ids["patient_id"]} if study else {}
        F.write_image(
            tmp / f"stow-{role}.dcm", **{"patient_id": "STOW-1", "series_uid": generate_uid(), **kwargs}
        )
        parts = [("application/dicom", [(tmp / f"stow-{role}.dcm").read_bytes()])]
        return b"".join(multipart_stream(parts, "MatrixBoundary")), (
            'multipart/related; type="application/dicom"; boundary=MatrixBoundary'
        )

    return body


SPA = (
    200 if (django_settings.FRONTEND_DIST / "index.html").is_file() else 503
)  # 503: the frontend is not built
ANY_HEALTH = frozenset({200, 503})  # 503 when no Celery worker answers (the suite runs without one)

MATRIX: dict[str, list[Call]] = {
    # Public: the health check, login (GET sets the CSRF cookie), token, the schema and its docs.
    "health": [Call("get", everyone(ANY_HEALTH))],
    "auth-login": [
        Call("get", everyone(204)),
        Call("post", everyone(200, anonymous=401), body=lambda w, role, tmp: (_credentials(role, w), "json")),
    ],
    "auth-token": [
        Call("post", everyone(200, anonymous=401), body=lambda w, role, tmp: (_credentials(role, w), "json")),
    ],
    "auth-logout": [Call("post", signed_in(204))],
    "auth-me": [Call("get", signed_in(200))],
    "schema": [Call("get", everyone(200))],
    "docs": [Call("get", everyone(200))],
    # Projects and their members.
    "projects-mine": [Call("get", signed_in(200))],
    "projects-members": [
        Call("get", project_admin_role(200)),
        Call("post", project_admin_role(201), body={"username": "outsider"}),
    ],
    "projects-member": [
        Call("patch", project_admin_role(200), body={"role": "admin"}),
        Call("delete", project_admin_role(204)),
    ],
    "projects-audit": [Call("get", project_admin_role(200))],
    # Imaging: lists are everyone's own (filtered); uploads and pairs are for admins of the project.
    "imaging-upload": [Call("post", project_admins(201), body=_upload)],
    # No PACS is configured in the suite: an admin's retrieve answers 409 no_pacs.
    "imaging-pacs-retrieve": [
        Call(
            "post", project_admins(409), body={"project": "spine", "by": "accession_number", "value": "A-1"}
        ),
    ],
    "imaging-ingest-job": [
        Call("get", by_role(401, 404, 404, 404, 404, 200, 200))
    ],  # its maker, the project's admins
    "imaging-studies": [Call("get", signed_in(200))],
    "imaging-pairs": [Call("get", signed_in(200))],
    "imaging-pair": [
        Call(
            "patch",
            project_admins(200),
            body=lambda w, role, tmp: ({"mr_study_uid": w.ids["mr_study"]}, "json"),
        )
    ],
    # Reading: a member's own reading of a case of spine.
    "reading-worklist": [Call("get", signed_in(200))],
    "reading-case": [Call("get", case_readers(200))],
    "reading-level": [Call("put", case_readers(200), body={"grade": 1, "version": None})],
    "reading-level-position": [
        Call("put", case_readers(200), body={"modality": "CT", "centre": [0.0, 0.0, 0.0]})
    ],
    "reading-submit": [Call("post", case_readers(409), body={})],  # 409: no level graded yet
    "reading-level-position-history": [Call("get", project_admin_role(200))],
    "reading-allocation": [
        Call("get", project_admins(200)),
        Call("put", project_admins(200), body={"allocation": "round_robin", "reads_per_case": 1}),
    ],
    "reading-labels-import": [Call("post", project_admins(200), body=_labels_csv)],
    # the world's champion (v2, promoted over v1) has no checkpoint: the model cannot run (503)
    "learning-predict": [
        Call(
            "post",
            project_admins(503),
            body=lambda world, role, tmp: ({"study_uid": world.ids["study"]}, "json"),
        )
    ],
    # Learning: the registry, trainings, the reference set and kappa for admins; adjudication for
    # admins and seniors (on cases they have read).
    "learning-versions": [Call("get", project_members(200))],
    "learning-promote": [Call("post", project_admins(200))],
    "learning-rollback": [Call("post", project_admins(200), body={})],
    "learning-promotions": [Call("get", project_admins(200))],
    "learning-training-runs": [Call("get", project_admins(200)), Call("post", project_admins(202))],
    "learning-training-run": [Call("get", project_admins(200))],
    "learning-training-retry": [Call("post", project_admins(202))],
    "learning-reference-set": [
        Call("get", project_admins(200)),
        Call(
            "post",
            project_admins(200),
            body=lambda w, role, tmp: ({"case_ids": [w.ids["case_id"]], "in_reference_set": True}, "json"),
        ),
    ],
    "learning-reference-set-case": [Call("put", project_admins(200), body={"in_reference_set": True})],
    "learning-kappa": [Call("get", project_admins(200))],
    "learning-adjudications": [Call("get", by_role(401, 403, 200, 404, 404, 200, 200))],
    "learning-adjudication-resolve": [
        # the junior sees no item; the platform admin is no senior reader (403 not_senior)
        Call("post", by_role(401, 404, 200, 404, 404, 200, 403), body={"grade": 1}),
    ],
    # Exports, for admins of the project.
    **{
        name: [Call("get", project_admins(200))]
        for name in (
            "exports-annotations-csv",
            "exports-annotations-json",
            "exports-coco",
            "exports-model-metrics",
            "exports-audit-csv",
            "exports-reader-performance",
        )
    },
    "exports-case-sr": [
        Call("get", by_role(401, 403, 403, 403, 404, 200, 200), params={"case_id": "read_case_id"}),
    ],
    # Results to the PACS: the suite configures no destination, so an admin's push answers 409 no_destination.
    "exports-case-push": [
        Call("post", by_role(401, 403, 403, 403, 404, 409, 409), params={"case_id": "read_case_id"}),
    ],
    "exports-result-pushes": [Call("get", project_admins(200))],
    # The dashboard: admins of a project; the list and the workers for an admin of any project.
    "dashboard-projects": [Call("get", by_role(401, 403, 403, 403, 200, 200, 200))],
    "dashboard-workers": [Call("get", by_role(401, 403, 403, 403, 200, 200, 200))],
    "dashboard-case-history": [
        Call("get", by_role(401, 403, 403, 403, 404, 200, 200), params={"case_id": "read_case_id"}),
    ],
    **{
        name: [Call("get", project_admins(200))]
        for name in (
            "dashboard-summary",
            "dashboard-labeling-progress",
            "dashboard-grade-distribution",
            "dashboard-kappa-timeline",
            "dashboard-kappa-by-subset",
            "dashboard-confusion-matrix",
            "dashboard-model-registry",
            "dashboard-label-efficiency",
            "dashboard-reader-performance",
            "dashboard-adjudication-summary",
        )
    },
    # DICOMweb: members of spine read its studies; STOW is for admins, into a project they run.
    "qido-studies": [
        Call("get", signed_in(200)),
        Call("post", project_admins(200), body=_stow(study=False), query="project=spine"),
    ],
    "wado-study": [
        Call("get", project_members(200)),
        Call("post", project_admins(200), body=_stow(study=True), query="project=spine"),
    ],
    **{
        name: [Call("get", project_members(200))]
        for name in (
            "wado-study-metadata",
            "qido-series",
            "wado-series",
            "wado-series-metadata",
            "qido-instances",
            "wado-instance",
            "wado-instance-metadata",
            "wado-rendered",
            "wado-frames",
            "wado-frame-rendered",
        )
    },
    # The browser app's shell: public (the app asks the API, which decides).
    "spa-root": [Call("get", everyone(SPA))],
    "spa": [Call("get", everyone(SPA))],
}

# The routes of the Django admin, by kind: what the platform admin gets (anyone else: the login page).
ADMIN_SITE = {
    "index": 200,
    "login": 302,
    "logout": 405,
    "password_change": 200,
    "password_change_done": 200,
    "jsi18n": 200,
    "autocomplete": 403,
    "view_on_site": 404,
    "app_list": 200,
    "catch_all": 404,
}  # logout: POST only
ADMIN_MODEL = {
    "changelist": 200,
    "add": 200,
    "change": 200,
    "delete": 200,
    "history": 200,
    "redirect": 302,
    "password_change": 200,  # a user's password, set by the platform admin
}
# History is never written or deleted by hand, not even by the platform admin.
HISTORY = ("projects.auditentry", "reading.annotationevent", "learning.modelpromotion", "auditlog.logentry")


@dataclass(frozen=True)
class Route:
    key: str  # the URL name (namespaced), or the pattern for an unnamed one
    pattern: str
    params: tuple[str, ...]
    methods: tuple[str, ...]
    callback: object


def _methods(callback) -> tuple[str, ...]:
    view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view is None:
        return ("get",)  # a function view (the SPA shell, the admin's views)
    names = [m for m in view.http_method_names if m not in ("options", "head", "trace") and hasattr(view, m)]
    return tuple(sorted(names))


def _walk(resolver, prefix: str = "", namespace: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            pattern = prefix + str(entry.pattern)
            params = tuple(entry.pattern.regex.groupindex)
            if hasattr(entry.pattern, "converters"):  # a route pattern: the names in order
                params = tuple(entry.pattern.converters) or params
            key = f"{namespace}{entry.name}" if entry.name else pattern
            yield Route(key, pattern, params, _methods(entry.callback), entry.callback)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver()))


def _admin_kind(route: Route) -> tuple[str, str | None]:
    """(kind, app_label.model_name or None) of a route of the Django admin."""
    name = route.key.removeprefix("admin:")
    if route.key == route.pattern:  # unnamed: `<object_id>/` (a redirect to the change page) or the catch-all
        if "object_id" in route.params:
            app, model = route.pattern.split("/")[1:3]
            return "redirect", f"{app}.{model}"
        return "catch_all", None
    if name in ADMIN_SITE:
        return name, None
    for model in admin.site._registry:
        label = f"{model._meta.app_label}_{model._meta.model_name}_"
        if name.startswith(label) and name.removeprefix(label) in ADMIN_MODEL:
            return name.removeprefix(label), model._meta.label_lower
    raise AssertionError(f"the matrix knows no admin route of kind {route.key!r}: add it to ADMIN_SITE")


def test_every_route_and_method_is_in_the_matrix():
    routes = all_routes()
    assert len(routes) > 100  # the walk reached into the includes (the admin alone has many)
    missing, extra_methods, missing_methods = [], [], []
    api = [r for r in routes if not r.pattern.startswith("admin/")]
    for route in api:
        if route.key not in MATRIX:
            missing.append(f"{route.key} ({route.pattern})")
            continue
        called = sorted({call.method for call in MATRIX[route.key]})
        if called != sorted(route.methods):
            missing_methods.append(f"{route.key}: view has {route.methods}, the matrix calls {called}")
    stale = sorted(set(MATRIX) - {r.key for r in api})
    for route in routes:
        if route.pattern.startswith("admin/"):
            _admin_kind(route)
    assert not missing, "routes missing from the permission matrix:\n" + "\n".join(missing)
    assert not missing_methods and not extra_methods, "\n".join(missing_methods + extra_methods)
    assert not stale, f"matrix rows for routes that no longer exist: {stale}"


# --- running the matrix -------------------------------------------------------------------------------


def _url(route: Route, world: World, params: dict | None = None) -> str:
    """The route's path with its parameters filled: world.ids by name, `params` over them."""
    values = {**world.ids, "route": "worklist", "url": "no-such-page/", **(params or {})}
    if route.key == "spa":
        return "/worklist/42"
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(values[m.group(1)]), route.pattern)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), path)
    path = path.replace("^", "").replace("$", "")
    assert "<" not in path and "(" not in path, path
    return "/" + path


def _client(route: Route, role: str, world: World):
    if route.pattern.startswith(("api/", "dicomweb/")):
        client = APIClient()
        if role != "anonymous":
            client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[role]}")
        return client
    client = Client()
    if role != "anonymous":
        client.force_login(world.users[role])
    return client


def _send(client, method: str, url: str, call: Call, world: World, role: str, tmp: Path) -> Result:
    body, fmt = call.body, "json"
    if callable(body):
        body, fmt = body(world, role, tmp)
    if call.query:
        url = f"{url}?{call.query}"
    with transaction.atomic():
        if isinstance(body, bytes):
            response = client.generic(method.upper(), url, body, content_type=fmt)
        elif isinstance(client, APIClient):
            response = getattr(client, method)(url, body, format=fmt)
        else:
            response = getattr(client, method)(url)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        transaction.set_rollback(True)
    return Result(response.status_code, content, response.get("Content-Type", ""))


def _check(route: Route, method: str, role: str, result: Result, expected, world: World) -> list[str]:
    problems = []
    allowed = expected if isinstance(expected, frozenset) else {expected}
    if result.status not in allowed:
        snippet = result.body[:300].decode(errors="replace").replace("\n", " ")
        problems.append(
            f"{method.upper()} {route.key} as {role}: {result.status}, expected {expected} ({snippet})"
        )
    if role in ("anonymous", "other_reader", "other_admin"):
        leaked = [s for s in world.secrets if s.encode() in result.body]
        if leaked:
            problems.append(f"{method.upper()} {route.key} as {role}: the answer holds spine's {leaked[:2]}")
    if route.pattern.startswith(("api/", "dicomweb/")) and result.status >= 400:
        # STOW-RS reports its failures as DICOM JSON (PS3.18); the rest answers the error body
        if not result.content_type.startswith(("application/json", "application/dicom+json")):
            problems.append(f"{method.upper()} {route.key} as {role}: error as {result.content_type!r}")
    return problems


@pytest.fixture
def quick_health(settings):
    settings.HEALTH_CHECK_TIMEOUT = 0.2


API_ROUTES = sorted(MATRIX)


@pytest.mark.parametrize("key", API_ROUTES)
def test_route_answers_every_role_as_the_matrix_says(key, world, db, quick_health, tmp_path):
    route = next((r for r in all_routes() if r.key == key), None)
    if route is None:
        pytest.skip(f"{key} is not routed (test_every_route_and_method_is_in_the_matrix says so)")
    problems = []
    for call in MATRIX[key]:
        for role in ROLES:
            client = _client(route, role, world)
            url = _url(route, world, {name: world.ids[key] for name, key in call.params.items()})
            result = _send(client, call.method, url, call, world, role, tmp_path)
            problems += _check(route, call.method, role, result, call.expect[role], world)
    assert not problems, "\n".join(problems)


def _admin_allows(model, kind: str, obj, user) -> bool:
    request = RequestFactory().get("/admin/")
    request.user = user
    model_admin = admin.site._registry[model]
    if kind == "add":
        return model_admin.has_add_permission(request)
    if kind == "delete":
        return model_admin.has_delete_permission(request, obj)
    return True


def _to_login(kind: str, location: str) -> bool:
    """A refused admin page sends to the login page (logout to the index, which sends there in turn)."""
    return location.startswith("/admin/login/") or (kind == "logout" and location == "/admin/")


def test_every_route_of_the_django_admin_is_for_the_platform_admin_only(world, db):
    problems = []
    clients = {role: _client(Route("", "admin/", (), (), None), role, world) for role in ROLES}
    for route in all_routes():
        if not route.pattern.startswith("admin/"):
            continue
        kind, label = _admin_kind(route)
        params = {"app_label": "projects", "content_type_id": 1, "object_id": 0}
        expected_super = ADMIN_SITE.get(kind) or ADMIN_MODEL[kind]
        if label:
            model = next(m for m in admin.site._registry if m._meta.label_lower == label)
            first = model._default_manager.order_by("pk").first()
            params["object_id"] = params["id"] = first.pk if first is not None else 0
            if first is None and kind in ("change", "delete", "history"):
                expected_super = 302  # to the index: "no such object"
            elif not _admin_allows(model, kind, first, world.users["superuser"]):
                expected_super = 403  # what its ModelAdmin forbids (a read-only one: add, delete)
        url = _url(route, world, params)
        for role in ROLES:
            response = clients[role].get(url)
            expected = expected_super if role == "superuser" else (200 if kind == "login" else 302)
            if response.status_code != expected:
                problems.append(
                    f"GET {url} ({route.key}) as {role}: {response.status_code}, expected {expected}"
                )
            elif role != "superuser" and expected == 302 and not _to_login(kind, response["Location"]):
                problems.append(f"GET {url} as {role}: sent to {response['Location']}, not the login page")
    assert not problems, "\n".join(problems)


def test_a_method_a_route_does_not_have_answers_405(world, db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens['admin']}")
    problems = []
    for route in all_routes():
        if not route.pattern.startswith(("api/", "dicomweb/")) or route.key in ("schema", "docs"):
            continue  # the schema and its docs answer 405 in their own formats (OpenAPI, HTML)
        unused = next(m for m in ("delete", "patch", "put", "post") if m not in route.methods)
        with transaction.atomic():
            response = getattr(client, unused)(_url(route, world))
            transaction.set_rollback(True)
        if response.status_code != 405 or not response["Content-Type"].startswith("application/json"):
            problems.append(
                f"{unused.upper()} {route.key}: {response.status_code} {response['Content-Type']}"
            )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("label", HISTORY)
def test_history_cannot_be_added_or_deleted_in_the_django_admin(world, db, label):
    model = next(m for m in admin.site._registry if m._meta.label_lower == label)
    assert not _admin_allows(model, "add", None, world.users["superuser"]), label
    assert not _admin_allows(model, "delete", model._default_manager.first(), world.users["superuser"]), label


def test_the_history_of_annotations_cannot_be_written_or_deleted_in_the_django_admin(world, db):
    """It answered 500 (an empty event saved) to the platform admin's POST on the add form."""
    client = Client(raise_request_exception=False)
    client.force_login(world.users["superuser"])
    event = AnnotationEvent.objects.order_by("pk").first()
    assert client.post("/admin/reading/annotationevent/add/", {}).status_code == 403
    assert (
        client.post(f"/admin/reading/annotationevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert client.get(f"/admin/reading/annotationevent/{event.pk}/change/").status_code == 200  # to read
    assert AnnotationEvent.objects.filter(pk=event.pk).exists()
