"""Locust scenario of readers at work: open the worklist, open the next case, grade its six levels,
submit. Run by benchmarks/load.py (which makes the readers and their tokens); on its own:

LOAD_TOKENS=tokens.json .venv/bin/locust -f benchmarks/locustfile.py --host http://127.0.0.1:8000
"""

import itertools
import json
import os
import random

from locust import HttpUser, between, task

LEVELS = ["C2-3", "C3-4", "C4-5", "C5-6", "C6-7", "C7-T1"]
with open(os.environ["LOAD_TOKENS"]) as tokens:
    TOKENS = json.load(tokens)  # one per reader
NEXT_READER = itertools.count()


class Reader(HttpUser):
    # A keyboard reader's pace between saves, compressed: the point is many readers at once.
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Token {TOKENS[next(NEXT_READER) % len(TOKENS)]}"

    @task
    def read_the_next_case(self) -> None:
        worklist = self.client.get("/api/reading/worklist/", name="worklist").json()
        case = worklist.get("next_case")
        if case is None:
            return
        detail = self.client.get(f"/api/reading/cases/{case}/", name="case open").json()
        versions = {a["level"].replace("/", "-"): a["version"] for a in detail.get("annotations", [])}
        for level in LEVELS:
            self.client.put(
                f"/api/reading/cases/{case}/levels/{level}/",
                json={"grade": random.choice([0, 0, 0, 1, 1, 2, 3]), "version": versions.get(level)},
                name="level save",
            )
        self.client.post(f"/api/reading/cases/{case}/submit/", json={"time_spent_s": 42.0}, name="submit")
