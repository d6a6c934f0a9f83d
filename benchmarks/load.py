"""Many simulated users against a running explorer, posting callbacks exactly as the browser does.

    .venv/bin/python -m benchmarks.load --cohort DIR --server embedded --users 20 --actions 1000
    .venv/bin/python -m benchmarks.load --cohort DIR --server scaled --users 20 --actions 1000
    .venv/bin/python -m benchmarks.load --cohort DIR --server embedded --users 1 --actions 1000 --only decode
    .venv/bin/python -m benchmarks.load --cohort DIR --server scaled --workers 1 --only filter,selection,colour,compare,saved-cohort,compare-spaces,accuracy

Starts the server itself on a free loopback port (the embedded ``python -m app``, or Redis + gunicorn
with two gthread workers + a Celery worker per job lane) with a private cache folder, and stops it afterwards.
Each user loads the page (``/``, ``/_dash-layout``, ``/_dash-dependencies``) and then plays random
actions, back to back or with pauses of ``--think`` seconds on average (a person reading the answer):
a filter, a selection, a colour, a cohort comparison, a saved cohort, a projection, a space comparison,
an accuracy view, and (10 % of actions) a decode. An action sets a property as a click would, then
posts every server callback that property triggers to ``/_dash-update-component``, applies the answers
to its copy of the page and follows the cascade (background callbacks are polled with the signed
``cacheKey``/``job`` handles, enabled ``dcc.Interval``s tick), as the Dash renderer does. Prints per action kind: count, p50/p95 of click → everything answered, requests,
errors; overall throughput; RSS, open descriptors and process count of the server's whole
process tree before, after the first tenth of the actions (one-off growth: the model, caches), halfway
(a leak still grows after it, a cache filling up does not) and after (after a short settle); the machine's load average then; the
cores each server role, this load generator and the rest of the machine kept busy during the run (when all are busy, the
machine sets the pace, not the server); and the callbacks that took the most time waiting for their answers (where to look first).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from app.panels.shown import SUFFIX as PANEL_VIEW_SUFFIX
from app.panels.shown import VISIBLE_SUFFIX
from app.panels.tab_panes import OPENED_SUFFIX
from app.state import COHORTS_VERSION, FILTERS, SELECTION
from tests.browser import scale_out_commands
from tests.serving import free_port

REQUEST_TIMEOUT_S = 120
MAX_POLLS = 400  # per background callback: 400 × its interval bounds one wait
MAX_CASCADE = 60  # server callbacks one action may trigger
GRACE_S = 60  # after --max-seconds, in-flight actions get this long before a still-running job counts as an error
INTERVAL_TICKS = 3  # ticks of an enabled dcc.Interval followed after an action (the Compare spaces poll)
CALLBACKS_SHOWN = 12
PANEL_VIEW_INPUTS = {(FILTERS, "data"), (SELECTION, "data"), (COHORTS_VERSION, "data"), ("main-tabs", "active_tab")}
ACTION_KINDS = ("filter", "selection", "colour", "compare", "saved-cohort", "projection", "compare-spaces", "accuracy", "decode")
# The kinds the web workers answer themselves: a projection (once computed) or a decode waits on a background job's lane.
WEB_KINDS = tuple(kind for kind in ACTION_KINDS if kind not in ("projection", "decode"))


def stringify_id(component_id: str | dict) -> str:
    """Dash's string form of a component id (pattern-matching ids: JSON with sorted keys)."""
    if isinstance(component_id, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{json.dumps(component_id[key], separators=(',', ':'))}" for key in sorted(component_id)) + "}"
    return component_id


def parse_id(text: str) -> str | dict:
    return json.loads(text) if text.startswith("{") else text


def split_outputs(output: str) -> list[tuple[str, str]]:
    """'..a.b...c.d..' or 'a.b' → [(id, property), ...] (ids may be JSON holding dots)."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    return [tuple(part.rsplit(".", 1)) for part in parts]  # type: ignore[misc]


def matches(pattern: dict, component_id: str | dict) -> bool:
    if not isinstance(component_id, dict) or set(pattern) != set(component_id):
        return False
    return all(isinstance(value, list) or component_id[key] == value for key, value in pattern.items())


@dataclass
class Page:
    """One user's copy of the page: every component's props, as the renderer holds them."""

    props: dict[str, dict] = field(default_factory=dict)  # stringified id → props
    types: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str | dict] = field(default_factory=dict)
    added: set[str] = field(default_factory=set)  # components put on the page since ``take_added`` last emptied it

    def register(self, node) -> None:
        if isinstance(node, list):
            for child in node:
                self.register(child)
            return
        if not isinstance(node, dict) or "props" not in node or "type" not in node:
            return
        props = node["props"]
        if "id" in props:
            key = stringify_id(props["id"])
            if key not in self.ids:
                self.added.add(key)
            self.ids[key], self.types[key] = props["id"], node["type"]
            self.props[key] = {name: value for name, value in props.items() if name != "children" or not _has_components(value)}
        for value in props.values():
            if isinstance(value, (dict, list)):
                self.register(value)

    def get(self, component_id: str, prop: str):
        return self.props.get(component_id, {}).get(prop)

    def take_added(self) -> set[str]:
        added, self.added = self.added, set()
        return added

    def set(self, component_id: str, prop: str, value) -> None:
        self.props.setdefault(component_id, {})[prop] = value
        if isinstance(value, (dict, list)):
            self.register(value)

    def matching(self, dependency_id: str) -> list[str]:
        """Stringified ids of the components a dependency id names (one, or all an ALL pattern matches)."""
        if dependency_id.startswith("{"):
            pattern = json.loads(dependency_id)
            return sorted(key for key, component_id in self.ids.items() if matches(pattern, component_id))
        return [dependency_id] if dependency_id in self.props else []


def _has_components(value) -> bool:
    if isinstance(value, list):
        return any(_has_components(item) for item in value)
    return isinstance(value, dict) and "props" in value


class ServerError(Exception):
    pass


class User:
    """One simulated browser tab: its own connection, page copy and signed page-load token."""

    def __init__(self, port: int, rng: random.Random, give_up_at: float = math.inf):
        self.port, self.rng, self.give_up_at = port, rng, give_up_at
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        self.requests = 0
        self.callback_seconds: dict[str, list[float]] = defaultdict(list)  # per callback (its outputs): each answer's wait

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=payload, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                self.requests += 1
                return response.status, data
            except (http.client.HTTPException, ConnectionError, TimeoutError, OSError):
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the connection (kept alive between requests, as a browser keeps it)."""
        self.connection.close()

    def load_page(self) -> None:
        status, index = self.request("GET", "/")
        if status != 200:
            raise ServerError(f"GET / gave {status}")
        config = json.loads(re.search(rb'<script id="_dash-config" type="application/json">(.*?)</script>', index, re.S).group(1))
        self.end_id = config.get("end_id")
        layout = json.loads(self.request("GET", "/_dash-layout")[1])
        every = json.loads(self.request("GET", "/_dash-dependencies")[1])
        self.dependencies = [d for d in every if not d.get("clientside_function")]
        # The clientside rules a panel's requests depend on (app.panels.shown, assets/panels.js): its view of the
        # current cohort follows the shared stores only while its tab is shown, and its visibility store changes
        # only when its tab is opened or left.
        def written_by(function: str) -> list[str]:
            return [split_outputs(d["output"])[0][0] for d in every if (d.get("clientside_function") or {}).get("function_name") == function]

        self.panel_views, self.panel_visibility = written_by("whenShown"), written_by("whetherShown")
        self.panel_flags = written_by("openedOnce")  # app.panels.tab_panes: set when a tab is first opened, which fetches its panel
        self.page = Page()
        self.page.register(layout)
        self.page.take_added()
        self.by_input: dict[tuple[str, str], list[int]] = defaultdict(list)
        for index_, dependency in enumerate(self.dependencies):
            for item in dependency["inputs"]:
                self.by_input[(item["id"], item["property"])].append(index_)
        self.inputs_of = [{(item["id"], item["property"]) for item in dependency["inputs"]} for dependency in self.dependencies]
        self.outputs_of = [{(component_id, prop.split("@")[0]) for component_id, prop in split_outputs(dependency["output"])}
                           for dependency in self.dependencies]
        initial = [i for i, d in enumerate(self.dependencies) if not d.get("prevent_initial_call")
                   and all(item["id"].startswith("{") or item["id"] in self.page.props for item in d["inputs"])]
        self.cascade(initial, changed=set())

    # -- the renderer's job --------------------------------------------------------------------
    def _values(self, items: list[dict]) -> list:
        values = []
        for item in items:
            if item["id"].startswith("{"):
                values.append([{"id": self.page.ids[key], "property": item["property"], "value": self.page.get(key, item["property"])}
                               for key in self.page.matching(item["id"])])
            else:
                values.append({"id": item["id"], "property": item["property"], "value": self.page.get(item["id"], item["property"])})
        return values

    def body(self, dependency: dict, changed: set[tuple[str, str]], overrides: dict[tuple[str, str], object] | None = None) -> dict:
        """The request the renderer would post for ``dependency``, with some input or state values replaced."""
        saved = {key: self.page.get(*key) for key in overrides or {}}
        for (component_id, prop), value in (overrides or {}).items():
            self.page.props.setdefault(component_id, {})[prop] = value
        try:
            output_specs = []
            outputs = split_outputs(dependency["output"])
            for component_id, prop in outputs:
                if component_id.startswith("{"):
                    output_specs.append([{"id": self.page.ids[key], "property": prop.split("@")[0]} for key in self.page.matching(component_id)])
                else:
                    output_specs.append({"id": component_id, "property": prop.split("@")[0]})
            return {"output": dependency["output"], "outputs": output_specs if len(outputs) > 1 else output_specs[0],
                    "inputs": self._values(dependency["inputs"]), "state": self._values(dependency.get("state", [])),
                    "changedPropIds": sorted(f"{component_id}.{prop}" for component_id, prop in changed
                                             if any(item["id"] == component_id and item["property"] == prop for item in dependency["inputs"]))}
        finally:
            for (component_id, prop), value in saved.items():
                self.page.props[component_id][prop] = value

    def exchange(self, dependency: dict, body: dict) -> tuple[int, bytes]:
        """Post a callback request; for a background callback, poll with its signed handles until it answers."""
        query = f"?endId={self.end_id}" if self.end_id else ""
        started = time.perf_counter()
        status, data = self.request("POST", "/_dash-update-component" + query, body)
        self.callback_seconds[dependency["output"][:70]].append(time.perf_counter() - started)
        background = dependency.get("background")
        if status != 200 or not background:
            return status, data
        handles = {key: value for key, value in json.loads(data).items() if key in ("cacheKey", "job")}
        if not handles:
            return status, data
        blank = {**body, "inputs": [{**v, "value": None} if isinstance(v, dict) else v for v in body["inputs"]],
                 "state": [{**v, "value": None} if isinstance(v, dict) else v for v in body["state"]]}
        path = "/_dash-update-component" + query + "".join(f"&{key}={value}" for key, value in handles.items())
        for _ in range(MAX_POLLS):
            if time.monotonic() > self.give_up_at:
                raise ServerError(f"{dependency['output']}: background job still without a result at the end of the run (stuck?)")
            time.sleep(background.get("interval", 1000) / 1000)
            status, data = self.request("POST", path, blank)
            if status != 200 or "response" in json.loads(data) or "sideUpdate" in json.loads(data):
                return status, data
        raise ServerError(f"{dependency['output']}: no result after {MAX_POLLS} polls")

    def post(self, dependency: dict, changed: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Post one callback as the renderer does; apply its answer to the page; return what changed."""
        status, data = self.exchange(dependency, self.body(dependency, changed))
        if status == 204:
            return set()
        if status != 200:
            raise ServerError(f"{dependency['output']}: HTTP {status} {data[:200]!r}")
        answer = json.loads(data)
        updated = set()
        for key, props in {**answer.get("response", {}), **answer.get("sideUpdate", {})}.items():  # sideUpdate: set_props
            for prop, value in props.items():
                if isinstance(value, dict) and "__dash_patch_update" in value:
                    updated.add((key, prop))  # a Patch: the value changes; our copy keeps the old one
                    continue
                self.page.set(key, prop, value)
                updated.add((key, prop))
        return updated

    def cascade(self, first: list[int], changed: set[tuple[str, str]]) -> None:
        """Post callbacks the way the renderer orders them: a callback waits while another pending one can still change
        one of its inputs (so it runs once, on the final values), then those the answers trigger join the queue."""
        pending: dict[int, set[tuple[str, str]]] = {index_: set(changed) for index_ in dict.fromkeys(first)}
        posted = 0
        while pending and posted < MAX_CASCADE:
            ready = [index_ for index_ in pending
                     if not any(self.inputs_of[index_] & self.outputs_of[other] for other in pending if other != index_)]
            for index_ in ready or [next(iter(pending))]:  # a cycle of pending callbacks: take the oldest
                posted += 1
                updated = self.post(self.dependencies[index_], pending.pop(index_))
                added = self.page.take_added()  # a panel arrived (its tab opened for the first time)
                if added:
                    updated |= self.follow_panel_views({("main-tabs", "active_tab")})  # its stores, as the browser's first call sets them
                    for first in self.first_calls(added):
                        pending.setdefault(first, set())
                updated |= self.follow_panel_views(updated)
                for triggered in self.triggered(updated):
                    if triggered != index_:  # as in the renderer, a callback's answer never triggers that callback again
                        pending.setdefault(triggered, set()).update(updated)

    def follow_panel_views(self, changed: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """What assets/panels.js does in the browser: copy the current cohort into the shown tab's store, if it changed,
        and set each tab's visibility store when it changed."""
        if not changed & PANEL_VIEW_INPUTS:
            return set()
        active = self.page.get("main-tabs", "active_tab")
        current = {"filters": self.page.get(FILTERS, "data"), "selection": self.page.get(SELECTION, "data"),
                   "version": self.page.get(COHORTS_VERSION, "data")}
        updated = set()
        for store in self.panel_flags:
            if active == store[: -len(OPENED_SUFFIX)] and store in self.page.props and not self.page.get(store, "data"):
                self.page.set(store, "data", True)
                updated.add((store, "data"))
        for store in self.panel_views:
            if store not in self.page.props:
                continue
            if active == store[: -len(PANEL_VIEW_SUFFIX)] and self.page.get(store, "data") != current:
                self.page.set(store, "data", current)
                updated.add((store, "data"))
        for store in self.panel_visibility:
            if store not in self.page.props:
                continue
            shown = active == store[: -len(VISIBLE_SUFFIX)]
            if self.page.get(store, "data") != shown:
                self.page.set(store, "data", shown)
                updated.add((store, "data"))
        return updated

    def first_calls(self, added: set[str]) -> list[int]:
        """The renderer's first calls for components put on the page: callbacks (not ``prevent_initial_call``) with an
        output among them, or an input among them and every input on the page."""
        def among(items) -> bool:
            return any(self.page.matching(component_id) and set(self.page.matching(component_id)) & added for component_id in items)

        found = []
        for index_, dependency in enumerate(self.dependencies):
            if dependency.get("prevent_initial_call"):
                continue
            outputs = [component_id for component_id, _prop in split_outputs(dependency["output"])]
            inputs = [item["id"] for item in dependency["inputs"]]
            if among(outputs) or (among(inputs) and all(item.startswith("{") or item in self.page.props for item in inputs)):
                found.append(index_)
        return found

    def triggered(self, changed: set[tuple[str, str]]) -> list[int]:
        found = []
        for component_id, prop in changed:
            found += self.by_input.get((component_id, prop), [])
            if component_id.startswith("{"):
                for (pattern, pattern_prop), indices in self.by_input.items():
                    if pattern_prop == prop and pattern.startswith("{") and matches(json.loads(pattern), parse_id(component_id)):
                        found += indices
        return found

    def act(self, component_id: str, prop: str, value) -> None:
        """What a click does: set a property, then post everything it triggers and follow enabled intervals."""
        self.page.set(component_id, prop, value)
        changed = {(component_id, prop)} | self.follow_panel_views({(component_id, prop)})
        self.cascade(self.triggered(changed), changed)
        for _ in range(INTERVAL_TICKS):
            live = [key for key, kind in self.page.types.items() if kind == "Interval" and not self.page.get(key, "disabled")]
            if not live:
                break
            time.sleep(max(self.page.get(key, "interval") or 1000 for key in live) / 1000)
            for key in live:
                self.act_interval(key)

    def act_interval(self, key: str) -> None:
        ticks = (self.page.get(key, "n_intervals") or 0) + 1
        self.page.set(key, "n_intervals", ticks)
        self.cascade(self.triggered({(key, "n_intervals")}), {(key, "n_intervals")})

    # -- what a user does ----------------------------------------------------------------------
    def options(self, component_id: str) -> list:
        values = [option["value"] if isinstance(option, dict) else option for option in self.page.get(component_id, "options") or []]
        return [value for value in values if value is not None]

    def tab(self, tab_id: str) -> None:
        if self.page.get("main-tabs", "active_tab") != tab_id:
            self.act("main-tabs", "active_tab", tab_id)

    def do(self, kind: str, n_subjects: int) -> None:
        rng = self.rng
        if kind == "filter":
            self.tab("explore")
            variable = rng.choice(self.options("add-filter"))
            self.act("add-filter", "value", variable)
            for key in self.page.matching('{"type":"range-filter","variable":["ALL"]}'):
                low, high = self.page.get(key, "min"), self.page.get(key, "max")
                if low is not None and high is not None:
                    cut = low + (high - low) * rng.uniform(0.2, 0.5)
                    self.act(key, "value", [cut, high])
                    return
            for key in self.page.matching('{"type":"choice-filter","variable":["ALL"]}'):
                choices = self.options(key)
                if choices:
                    self.act(key, "value", choices[:1])
                    return
        elif kind == "selection":
            self.tab("explore")
            start = rng.randrange(n_subjects)
            self.act("selection", "data", {"rows": sorted(rng.sample(range(n_subjects), min(n_subjects, 50 + start % 200))), "source": "view-0"})
        elif kind == "colour":
            self.tab("explore")
            self.act("colour-by", "value", rng.choice(self.options("colour-by")))
        elif kind == "compare":
            self.tab("compare-cohorts")
            self.act("compare-variable", "value", rng.choice(self.options("compare-variable")))
        elif kind == "saved-cohort":
            self.act("cohort-name", "value", f"load test {rng.randrange(10**9)}")
            self.act("save-cohort", "n_clicks", (self.page.get("save-cohort", "n_clicks") or 0) + 1)
            saved = self.options("manage-cohort")
            if saved:
                self.act("manage-cohort", "value", rng.choice(saved))
                self.act("apply-cohort", "n_clicks", (self.page.get("apply-cohort", "n_clicks") or 0) + 1)
        elif kind == "projection":
            self.tab("explore")
            self.act("view-0-method", "value", rng.choice(self.options("view-0-method")))
        elif kind == "compare-spaces":
            self.tab("compare-spaces")
            self.act("cs-k", "value", rng.choice([10, 20, 50]))
        elif kind == "accuracy":
            self.tab("accuracy")
            self.act("accuracy-task", "value", rng.choice(self.options("accuracy-task")))
        elif kind == "decode":
            self.tab("decoder")
            subjects = self.options("decoder-subjects")  # the layout's own choices: the subjects near the selection
            if len(subjects) < 2:
                self.act("selection", "data", {"rows": sorted(rng.sample(range(n_subjects), min(n_subjects, 40))), "source": "view-0"})
                subjects = self.options("decoder-subjects")
            self.act("decoder-subjects", "value", rng.sample(subjects, min(2, len(subjects))))
        else:
            raise ValueError(kind)


@dataclass
class Results:
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    callback_seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def actions_done(self) -> int:
        with self.lock:
            return sum(len(v) for k, v in self.times.items() if k != "page load") + sum(len(v) for k, v in self.errors.items() if k != "page load")


def choose_kind(rng: random.Random, only: tuple[str, ...] | None) -> str:
    """The next action: one of ``only`` (every kind when None), a decode one time in ten when decodes are among them."""
    kinds = only or ACTION_KINDS
    if len(kinds) == 1:
        return kinds[0]
    if "decode" in kinds and rng.random() < 0.10:
        return "decode"
    return rng.choice([kind for kind in kinds if kind != "decode"])


def action_kinds(text: str) -> tuple[str, ...]:
    """``--only``'s comma-separated kinds, each one the benchmark plays."""
    kinds = tuple(dict.fromkeys(kind.strip() for kind in text.split(",") if kind.strip()))
    unknown = [kind for kind in kinds if kind not in ACTION_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown action kind(s) {', '.join(unknown) or '(none)'}: expected some of {', '.join(ACTION_KINDS)}")
    return kinds


def run_user(port: int, seed: int, actions: int, deadline: float, n_subjects: int, only: tuple[str, ...] | None, results: Results,
             think: float = 0) -> None:
    rng = random.Random(seed)
    user = User(port, rng, give_up_at=deadline + GRACE_S)
    try:
        started = time.perf_counter()
        user.load_page()
        with results.lock:
            results.times["page load"].append(time.perf_counter() - started)
            results.requests["page load"] += user.requests
    except Exception as error:  # noqa: BLE001 - a load test counts every failure
        with results.lock:
            results.errors["page load"].append(f"{type(error).__name__}: {error}")
        return
    for _ in range(actions):
        if think:  # a person reads the answer before the next click: exponential pauses of mean ``think`` (at most 5×), not timed
            time.sleep(min(rng.expovariate(1 / think), 5 * think))
        if time.monotonic() > deadline:
            break
        kind = choose_kind(rng, only)
        before = user.requests
        started = time.perf_counter()
        try:
            user.do(kind, n_subjects)
            elapsed = time.perf_counter() - started
            with results.lock:
                results.times[kind].append(elapsed)
        except Exception as error:  # noqa: BLE001
            with results.lock:
                results.errors[kind].append(f"{type(error).__name__}: {str(error)[:160]}")
            with contextlib.suppress(Exception):
                user.load_page()  # a failed action leaves the copy of the page unknown: reload, as a user would
        with results.lock:
            results.requests[kind] += user.requests - before
    user.close()
    with results.lock:
        for output, seconds in user.callback_seconds.items():
            results.callback_seconds[output] += seconds


def process_tree(pid: int) -> dict[str, float]:
    """RSS (MiB), open descriptors and process count of a process and all its descendants."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return {"rss_mib": 0.0, "fds": 0, "processes": 0}
    rss, fds, alive = 0, 0, 0
    for process in processes:
        try:
            rss += process.memory_info().rss
            fds += process.num_fds()
            alive += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return {"rss_mib": rss / 2**20, "fds": fds, "processes": alive}


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its descendants, those already ended and reaped included."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def machine_busy_seconds() -> float:
    """CPU seconds all of this machine's cores have spent busy (neither idle nor waiting for the disk) since boot."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def cpu_role(command: list[str]) -> str:
    """A short name for one of the servers' processes, from its command line."""
    if "gunicorn" in command:
        return "gunicorn web workers"
    if "celery" in command:
        return f"Celery {command[command.index('--queues') + 1]} lane"
    return "Redis" if Path(command[0]).name == "redis-server" else "python -m app (and its heavy-job worker)"


class Servers:
    """The server under test and whatever it needs (Redis, a Celery worker), each in its own process group."""

    def __init__(self, kind: str, cohort: Path, workdir: Path, workers: int):
        self.kind, self.cohort, self.workdir, self.workers = kind, cohort, workdir, workers
        self.port = free_port()
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        env = {**os.environ, "LSE_CACHE_DIR": str(self.workdir / "cache"), "LSE_COHORT": str(self.cohort), "LSE_DEVICE": "cpu",
               "LSE_AUTH": "off"}  # the simulated users post callbacks without signing in (the scaled recipe's default is sign-in on)
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - closed with the process
        if self.kind == "embedded":
            self._spawn([sys.executable, "-m", "app", "--cohort", str(self.cohort), "--port", str(self.port)], env, log)
        else:
            redis_port = free_port()
            env["LSE_CELERY_BROKER"] = f"redis://127.0.0.1:{redis_port}/0"
            for command in scale_out_commands(self.port, redis_port, self.workdir, self.workers):
                self._spawn(command, env, log)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.processes):
                raise SystemExit(f"the server exited at start; see {self.workdir / 'server.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise SystemExit("the server did not listen within 300 s")
        if self.kind == "scaled":
            time.sleep(5)  # let the Celery worker finish importing the app

    def _spawn(self, command: list[str], env: dict, log) -> None:
        self.processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def tree(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for process in self.processes:
            for key, value in process_tree(process.pid).items():
                totals[key] += value
        return dict(totals)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by each of the servers' process trees, by role (see :func:`cpu_role`)."""
        return {cpu_role(process.args): tree_cpu_seconds(process.pid) for process in self.processes}

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, 15)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def report_cpu(elapsed: float, servers_cpu: dict[str, float], generator_cpu: float, machine_busy: float) -> None:
    """Where the machine's cores went during the run: each server role and this load generator, in cores busy on average.

    With every core busy the figures above are the machine's, not the server's: more web workers cannot add throughput.
    """
    cores = os.cpu_count() or 1
    parts = [f"{role} {seconds / elapsed:.2f}" for role, seconds in servers_cpu.items()]
    others = machine_busy - sum(servers_cpu.values()) - generator_cpu
    print(f"cores busy on average over the run ({cores} CPUs): {', '.join(parts)}, this load generator {generator_cpu / elapsed:.2f}, "
          f"anything else {max(others, 0.0) / elapsed:.2f}; the machine {machine_busy / elapsed:.2f} of {cores} ({100 * machine_busy / elapsed / cores:.0f} %)")


def report(results: Results, elapsed: float, before: dict, after: dict, warm: tuple[int, dict] | None = None,
           half: tuple[int, dict] | None = None) -> None:
    print(f"{'kind':<16}{'n':>6}{'p50 s':>9}{'p95 s':>9}{'max s':>9}{'requests':>10}{'errors':>8}")
    total_actions = total_requests = total_errors = 0
    for kind in ["page load", *ACTION_KINDS]:
        times, errors = results.times.get(kind, []), results.errors.get(kind, [])
        if not times and not errors:
            continue
        total_actions += len(times) + len(errors)
        total_requests += results.requests.get(kind, 0)
        total_errors += len(errors)
        if times:
            print(f"{kind:<16}{len(times):>6}{statistics.median(times):>9.2f}{percentile(times, 0.95):>9.2f}{max(times):>9.2f}"
                  f"{results.requests.get(kind, 0):>10}{len(errors):>8}")
        else:
            print(f"{kind:<16}{0:>6}{'-':>9}{'-':>9}{'-':>9}{results.requests.get(kind, 0):>10}{len(errors):>8}")
    print(f"actions {total_actions}, requests {total_requests}, errors {total_errors}, {elapsed:.1f} s: "
          f"{total_actions / elapsed:.1f} actions/s, {total_requests / elapsed:.1f} requests/s")
    for key, unit in (("rss_mib", "MiB"), ("fds", "descriptors"), ("processes", "processes")):
        change = 100 * (after[key] - before[key]) / before[key] if before.get(key) else float("nan")
        line = f"server tree {key}: {before.get(key, 0):.0f} → {after.get(key, 0):.0f} {unit} ({change:+.1f} %)"
        if warm is not None:
            done, sample = warm
            steady = 100 * (after[key] - sample[key]) / sample[key] if sample.get(key) else float("nan")
            line += f"; after the first {done} actions {sample.get(key, 0):.0f}, from there {steady:+.1f} %"
            if half is not None:  # a leak keeps growing in the second half; a cache filling up does not
                done_half, at_half = half
                late = 100 * (after[key] - at_half[key]) / at_half[key] if at_half.get(key) else float("nan")
                line += f"; after {done_half} {at_half.get(key, 0):.0f}, from there {late:+.1f} %"
        print(line)
    busiest = sorted(results.callback_seconds.items(), key=lambda item: -sum(item[1]))[:CALLBACKS_SHOWN]
    if busiest:
        print(f"where the time went, the {len(busiest)} callbacks with the most time waiting for an answer (polls of background jobs not counted):")
        for output, seconds in busiest:
            print(f"  {sum(seconds):8.1f} s  {len(seconds):6} × mean {1000 * statistics.mean(seconds):7.0f} ms, "
                  f"p95 {1000 * percentile(seconds, 0.95):7.0f} ms  {output}")
    shown = 0
    for kind, errors in results.errors.items():
        for error in dict.fromkeys(errors):
            if shown < 12:
                print(f"  error [{kind}] {error}")
                shown += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cohort", type=Path, required=True, help="a cohort folder with a trained model (e.g. built by models.pipeline)")
    parser.add_argument("--server", choices=("embedded", "scaled"), default="embedded")
    parser.add_argument("--users", type=int, default=20, choices=range(1, 101), metavar="1..100")
    parser.add_argument("--actions", type=int, default=1000, help="actions in all, shared among the users (at most 20,000)")
    parser.add_argument("--max-seconds", type=float, default=900, help="stop starting actions after this long (at most 3,600)")
    parser.add_argument("--only", type=action_kinds, metavar="KIND[,KIND…]",
                        help=f"play these action kinds only, e.g. decode, or the web workers' own: {','.join(WEB_KINDS)} ({', '.join(ACTION_KINDS)})")
    parser.add_argument("--workers", type=int, default=2, choices=range(1, 9), metavar="1..8", help="gunicorn workers (scaled)")
    parser.add_argument("--think", type=float, default=0, metavar="SECONDS",
                        help="mean pause of a user between actions (0: back to back, the server saturated; 0..60)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not 1 <= args.actions <= 20_000 or not 1 <= args.max_seconds <= 3600 or not 0 <= args.think <= 60:
        parser.error("--actions must be 1..20000, --max-seconds 1..3600 and --think 0..60")
    from data_loaders import load_cohort

    n_subjects = len(load_cohort(args.cohort).phenotypes)
    workdir = Path(tempfile.mkdtemp(prefix="lse-load-"))
    servers = Servers(args.server, args.cohort.resolve(), workdir, args.workers)
    try:
        servers.start()
        warm = User(servers.port, random.Random(-1))
        warm.load_page()  # first request builds caches; not measured
        warm.close()
        time.sleep(2)
        before, load_before = servers.tree(), os.getloadavg()
        results = Results()
        per_user = [args.actions // args.users + (1 if i < args.actions % args.users else 0) for i in range(args.users)]
        deadline = time.monotonic() + args.max_seconds
        started, cpu_before = time.perf_counter(), (servers.cpu_seconds(), time.process_time(), machine_busy_seconds())
        threads = [threading.Thread(target=run_user, args=(servers.port, args.seed * 1000 + i, per_user[i], deadline, n_subjects, args.only, results, args.think))
                   for i in range(args.users)]
        for thread in threads:
            thread.start()
        # A second sample once a tenth of the actions are done (at least 10): the first model load and
        # caches are one-off growth; what a leak looks like is growth from there to the end.
        warm_after, warm, half = max(10, args.actions // 10), None, None
        while any(thread.is_alive() for thread in threads):
            done = results.actions_done()
            if warm is None and done >= warm_after:
                warm = (done, servers.tree())
            if half is None and done >= max(warm_after + 1, args.actions // 2):
                half = (done, servers.tree())
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        servers_cpu = {role: seconds - cpu_before[0].get(role, 0.0) for role, seconds in servers.cpu_seconds().items()}
        generator_cpu, machine_busy = time.process_time() - cpu_before[1], machine_busy_seconds() - cpu_before[2]
        time.sleep(5)  # finished background jobs get reaped
        after, load_after = servers.tree(), os.getloadavg()
        print(f"server: {args.server}{f' ({args.workers} gunicorn workers + a Celery worker per job lane)' if args.server == 'scaled' else ''}, "
              f"cohort {args.cohort} ({n_subjects:,} subjects), {args.users} users, {args.actions} actions, "
              + (f"pauses of {args.think:g} s on average between a user's actions" if args.think else "no pause between a user's actions")
              + (f", only {', '.join(args.only)}" if args.only else ""))
        report(results, elapsed, before, after, warm, half)
        report_cpu(elapsed, servers_cpu, generator_cpu, machine_busy)
        print(f"machine load average (1/5/15 min) on {os.cpu_count()} CPUs: {' / '.join(f'{v:.2f}' for v in load_before)} before, "
              f"{' / '.join(f'{v:.2f}' for v in load_after)} after (other work on the machine slows every figure above)")
        log_lines = (workdir / "server.log").read_text(errors="replace").splitlines()
        failures = [line for line in log_lines if re.match(r"^\w*(Error|Exception)\b|^\w+\.\w+Error", line)]
        for line in list(dict.fromkeys(failures))[-8:]:
            print(f"  server log: {line[:200]}")
    finally:
        servers.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
