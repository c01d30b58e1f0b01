"""Reading view benchmark: real headless Chromium against gunicorn on loopback.

.venv/bin/python benchmarks/reading_view.py [--patients 4] [--image-size 224] [--screenshot docs/images/reading-view.png]

Per case, the reader opens it from the worklist (an in-app navigation, as readers go from case to
case) and the page reports, through window.__readingTimings, when the first CT image was rendered
and when every image of the CT and MR series was loaded (CT volume for the sagittal included).
Goals: case open -> first CT image <= 1 s, -> both series fully loaded <= 3 s (medians over cases).
Also shown: the same from the navigation start when a case is opened by its URL (a full page
load: bundle, Cornerstone's init and its codecs). Data: synthetic phantoms (ml.synthetic) at the
demo's size, ingested into a throw-away SQLite database (DATABASE_URL overrides it).
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "bench-pass-123456"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def prepare(tmp: Path, *, patients: int, image_size: int) -> list[int]:
    """Migrated database, a synthetic project with a champion, one reader; returns the case ids."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from backend.accounts.services import reader_ensure
    from backend.projects.services import project_member_add
    from backend.reading.models import Case
    from tests.backend.reading_data import synthetic_reading_project

    project, _ = synthetic_reading_project(tmp, patients=patients, slug="bench", image_size=image_size)
    profile, _ = reader_ensure(username="bench-reader", password=PASSWORD, experience="senior", role="reader")
    project_member_add(project=project, user=profile.user)
    return list(Case.objects.filter(project=project).order_by("-priority", "pk").values_list("pk", flat=True))


def start_server(port: int, env: dict) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "backend.config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(150):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the web server did not start")


def wait_timings(page, case_id: int) -> dict:
    page.wait_for_function(
        "(id) => { const t = window.__readingTimings; return t && t.caseId === id && (t.allLoaded || t.error); }",
        arg=case_id,
        timeout=60_000,
    )
    timings = page.evaluate("window.__readingTimings")
    if timings.get("error"):
        raise RuntimeError(f"case {case_id}: {timings['error']}")
    return timings


def measure(page, base: str, cases: list[int]) -> dict:
    in_app, direct = [], []
    for case_id in cases:
        page.goto(f"{base}/worklist")
        page.get_by_test_id(f"case-row-{case_id}").click()
        t = wait_timings(page, case_id)
        in_app.append(
            (
                t["ctFirstImage"] - t["openedAt"],
                t["allLoaded"] - t["openedAt"],
                t["caseLoaded"] - t["openedAt"],
            )
        )
    for case_id in cases:
        page.goto(f"{base}/read/{case_id}")
        t = wait_timings(page, case_id)
        direct.append((t["ctFirstImage"], t["allLoaded"], t["caseLoaded"]))

    def summary(rows):
        first, full, api = [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
        return {
            "case_api_ms": round(statistics.median(api)),
            "first_ct_ms": round(statistics.median(first)),
            "all_loaded_ms": round(statistics.median(full)),
            "first_ct_max_ms": round(max(first)),
            "all_loaded_max_ms": round(max(full)),
        }

    return {"cases": len(cases), "open_from_worklist": summary(in_app), "open_by_url": summary(direct)}


def screenshot(page, base: str, case_id: int, path: Path) -> None:
    page.goto(f"{base}/read/{case_id}")
    wait_timings(page, case_id)
    for grade in (0, 1, 1):
        page.keyboard.press(str(grade))
        page.keyboard.press("j")
    page.keyboard.press("a")  # the model's box as the reader's ROI at C5/6
    page.get_by_test_id("reader-box").wait_for()
    page.keyboard.press("2")
    page.wait_for_timeout(500)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=4)
    parser.add_argument(
        "--image-size", type=int, default=224, help="CT matrix of the phantoms (the demo's: 224)"
    )
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
    parser.add_argument("--screenshot", type=Path, help="also save a screenshot of the reading view here")
    args = parser.parse_args()

    if not (ROOT / "frontend" / "dist" / "index.html").is_file():
        sys.exit("Build the frontend first: make frontend")
    tmp = Path(tempfile.mkdtemp(prefix="bench-reading-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp / 'bench.sqlite3'}")
    os.environ["MEDIA_ROOT"] = str(tmp / "media")
    os.environ["DEBUG"] = "1"
    started = time.perf_counter()
    cases = prepare(tmp, patients=args.patients, image_size=args.image_size)
    print(f"{len(cases)} cases ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    server = start_server(args.port, dict(os.environ))
    base = f"http://127.0.0.1:{args.port}"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(tmp / "profile"),
                executable_path=args.chromium,
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport={"width": 1400, "height": 900},
            )
            page = context.new_page()
            page.goto(f"{base}/login")
            page.fill("input[name=username]", "bench-reader")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/worklist")
            page.goto(f"{base}/read/{cases[-1]}")  # warm-up: browser cache, shader and codec compilation
            wait_timings(page, cases[-1])
            result = measure(page, base, cases)
            if args.screenshot:
                screenshot(page, base, cases[0], args.screenshot)
            context.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    result.update(image_size=args.image_size, goals_ms={"first_ct": 1000, "all_loaded": 3000})
    worklist = result["open_from_worklist"]
    print(json.dumps(result, indent=1))
    print(
        f"case open -> first CT image: median {worklist['first_ct_ms']} ms (goal <= 1000); "
        f"-> both series loaded: median {worklist['all_loaded_ms']} ms (goal <= 3000), over {len(cases)} cases"
    )


if __name__ == "__main__":
    main()
