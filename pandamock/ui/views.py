"""The dashboard's routes: pages, the overview feed and the forms (acting through the control plane)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..control import TOKEN_HEADER, ControlError, ControlPlane
from ..engine.statuses import JOB_STATUSES, TASK_STATUSES
from . import PREFIX, queries

if TYPE_CHECKING:
    from flask import Blueprint, Response

    from ..emulator import Emulator

COOKIE = "pandamock_ui"
#: Seconds between two polls of the overview feed by the page's script.
REFRESH_SECONDS = 3
JOURNAL_LIMIT = 200
JOURNAL_MAX = 5000
#: Fields of the add-rule form (besides ``more``, a JSON object of any further rule fields).
RULE_TEXT_FIELDS = ("id", "description", "message", "body", "from", "until", "for", "period", "retry_after")
RULE_LIST_FIELDS = ("endpoint", "method", "identity", "panda_id", "task_id", "site", "harvester_id", "worker_id")
RULE_INT_FIELDS = ("status", "first", "after", "every", "max", "bytes")
RULE_FLOAT_FIELDS = ("probability", "fraction")
RULE_CHOICE_FIELDS = ("action", "reason", "when")
NAV = (
    ("overview", "Overview"),
    ("tasks", "Tasks"),
    ("jobs", "Jobs"),
    ("journal", "Journal"),
    ("faults", "Faults & clock"),
)
CLOCK_STEPS = ("10s", "1m", "5m", "1h")
SPEEDS = (0, 1, 10, 60)


def session_value(token: str) -> str:
    """The cookie value that proves the control token was given (not the token itself)."""
    return hmac.new(token.encode(), b"pandamock dashboard session", hashlib.sha256).hexdigest()


def jsonable(value: Any) -> Any:
    """JSON encoding of feed values (datetimes as ISO text)."""
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return repr(value)


class FormError(ControlError):
    """A form value that cannot be read (HTTP 400, shown above the form)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


def _split(text: str) -> list[str]:
    return [part for part in (item.strip() for item in text.replace("\n", ",").split(",")) if part]


def rule_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """A fault-rule definition from the add-rule form (empty fields left out); raises FormError."""
    rule: dict[str, Any] = {}
    more = (form.get("more") or "").strip()
    if more:
        try:
            extra = json.loads(more)
        except ValueError as exc:
            raise FormError(f"more fields: not valid JSON: {exc}") from None
        if not isinstance(extra, dict):
            raise FormError(f"more fields: expected a JSON object, got {type(extra).__name__}")
        rule.update(extra)
    for name in RULE_TEXT_FIELDS + RULE_CHOICE_FIELDS:
        value = (form.get(name) or "").strip()
        if value:
            rule[name] = value
    if "retry_after" in rule and rule["retry_after"].isdigit():
        rule["retry_after"] = int(rule["retry_after"])
    for name in RULE_LIST_FIELDS:
        values = _split(form.get(name) or "")
        if values:
            rule[name] = values[0] if len(values) == 1 else values
    for name in RULE_INT_FIELDS:
        value = (form.get(name) or "").strip()
        if value:
            try:
                rule[name] = int(value)
            except ValueError:
                raise FormError(f"{name}: expected an integer, got {value!r}") from None
    for name in RULE_FLOAT_FIELDS:
        value = (form.get(name) or "").strip()
        if value:
            try:
                rule[name] = float(value)
            except ValueError:
                raise FormError(f"{name}: expected a number, got {value!r}") from None
    delay = (form.get("delay") or "").strip()
    if delay:
        parts = _split(delay.replace("..", ",").replace("-", ",")) if not delay.startswith("-") else [delay]
        try:
            numbers = [float(part) for part in parts]
        except ValueError:
            raise FormError(f"delay: expected seconds or 'min-max' (or min..max), got {delay!r}") from None
        rule["delay"] = numbers[0] if len(numbers) == 1 else numbers
    production = (form.get("production") or "").strip().lower()
    if production in ("true", "false"):
        rule["production"] = production == "true"
    if form.get("continue") in ("1", "on", "true"):
        rule["continue"] = True
    if form.get("disabled") in ("1", "on", "true"):
        rule["disabled"] = True
    if rule.get("action") == "error":
        rule.pop("action")  # implied by the status (and refused with a precise message without one)
        if "status" not in rule:
            raise FormError("status: an 'error' needs a status: one of 403, 500, 503")
    return rule


def _int_arg(args: Mapping[str, str], name: str, what: str) -> tuple[int | None, str | None]:
    value = (args.get(name) or "").strip()
    if not value:
        return None, None
    try:
        return int(value), None
    except ValueError:
        return None, f"{name}: expected {what} (an integer), got {value!r}"


def journal_filters(args: Mapping[str, str]) -> tuple[dict[str, Any], str | None]:
    """Journal query filters from the journal page's form (empty fields left out)."""
    filters: dict[str, Any] = {}
    for name in ("endpoint", "identity", "method"):
        value = (args.get(name) or "").strip()
        if value:
            filters[name] = value
    statuses = _split(args.get("status") or "")
    if statuses:
        try:
            filters["status"] = [int(value) for value in statuses]
        except ValueError:
            return {}, f"status: expected HTTP statuses such as 200 or 500,503, got {args.get('status')!r}"
    success = (args.get("success") or "").strip().lower()
    if success in ("true", "false"):
        filters["success"] = success == "true"
    fault = (args.get("fault") or "").strip()
    if fault == "any":
        filters["fault"] = True
    elif fault == "none":
        filters["fault"] = False
    elif fault:
        filters["fault"] = fault
    if args.get("failed") in ("1", "on", "true"):
        filters["failed"] = True
    limit, problem = _int_arg(args, "limit", "a number of entries")
    if problem:
        return {}, problem
    filters["limit"] = min(max(limit or JOURNAL_LIMIT, 1), JOURNAL_MAX)
    return filters, None


def blueprint(emulator: Emulator, token: str | None = None) -> Blueprint:
    """The dashboard of one emulator. ``token``: the control token every page but the login page needs."""
    from flask import Blueprint, make_response, redirect, render_template, request, url_for

    plane = ControlPlane(emulator)
    engine = emulator.engine
    csrf = secrets.token_urlsafe(24)  # forms carry it: another site cannot post to the dashboard
    session = session_value(token) if token else None
    drills: dict[str, dict[str, Any]] = {}
    bp = Blueprint(
        "pandamock_ui",
        __name__,
        url_prefix=PREFIX,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )

    # -- access ---------------------------------------------------------------------------------
    def authorised() -> bool:
        if token is None:
            return True
        given = request.headers.get(TOKEN_HEADER, "")
        authorization = request.headers.get("Authorization", "")
        if authorization[:7].lower() == "bearer ":
            given = authorization[7:].strip()
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and session is not None and hmac.compare_digest(cookie.encode(), session.encode())

    @bp.before_request
    def guard() -> Any:
        name = (request.endpoint or "").rsplit(".", 1)[-1]
        if token is not None and name not in ("login", "static") and not authorised():
            if request.method == "GET" and not request.path.endswith(".json"):
                return redirect(url_for(".login", next=request.full_path.rstrip("?")), code=303)
            return _json({"error": "the dashboard needs the control token", "status": 401}, 401)
        if request.method == "POST" and not hmac.compare_digest(
            (request.form.get("csrf") or "").encode(), csrf.encode()
        ):
            return page(
                "error.html",
                403,
                title="Stale form",
                message="This form is out of date: reload the page and try again.",
            )
        return None

    # -- helpers ----------------------------------------------------------------------------------
    def _json(data: Any, status: int = 200) -> Response:
        from flask import Response

        body = json.dumps(data, default=jsonable)
        return Response(body + "\n", status=status, mimetype="application/json", headers={"Cache-Control": "no-store"})

    def page(template: str, status: int = 200, **context: Any) -> Response:
        response = make_response(render_template(f"ui/{template}", **context), status)
        response.headers["Cache-Control"] = "no-store"
        return response

    def back_to(default: str, notice: str | None = None) -> Response:
        """Redirect (303) to the form's ``back`` page (a dashboard path) with a notice."""
        target = request.form.get("back") or default
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or not parts.path.startswith(PREFIX):
            target, parts = default, urlsplit(default)
        query = [(key, value) for key, value in parse_qsl(parts.query) if key not in ("notice", "error")]
        if notice:
            query.append(("notice", notice))
        return redirect(parts.path + ("?" + urlencode(query) if query else ""), code=303)

    @bp.app_template_global("ui_url")
    def ui_url(**changes: Any) -> str:
        """The current page's URL with some query arguments changed (None or '' removes one)."""
        args = {key: value for key, value in request.args.items() if key not in ("notice", "error")}
        for key, value in changes.items():
            if value is None or value == "":
                args.pop(key, None)
            else:
                args[key] = str(value)
        return request.path + ("?" + urlencode(args) if args else "")

    @bp.app_template_filter("ui_time")
    def ui_time(value: Any) -> str:
        if isinstance(value, _dt.datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, str) and len(value) >= 19 and value[10] == "T":
            return value[:10] + " " + value[11:19]
        return "—" if value is None else str(value)

    @bp.app_template_filter("ui_ago")
    def ui_ago(value: Any) -> str:
        if not isinstance(value, _dt.datetime):
            return ""
        seconds = (engine.now() - value).total_seconds()
        ahead = seconds < 0
        seconds = abs(seconds)
        for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
            if seconds >= size or unit == "s":
                amount = f"{int(seconds // size)} {unit}"
                return f"in {amount}" if ahead else f"{amount} ago"
        return ""

    @bp.app_template_filter("ui_num")
    def ui_num(value: Any) -> str:
        return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)

    @bp.app_template_filter("ui_value")
    def ui_value(value: Any) -> str:
        """An attribute value as text: times without microseconds, structures as JSON."""
        if value is None:
            return "NULL"
        if isinstance(value, _dt.datetime):
            return value.isoformat(sep=" ")
        if isinstance(value, (dict, list, tuple)):
            return json.dumps(value, default=jsonable, indent=1)
        return str(value)

    @bp.app_template_filter("ui_category")
    def ui_category(status: Any) -> str:
        return queries.category(status)

    @bp.context_processor
    def common() -> dict[str, Any]:
        scenario = emulator.scenario
        return {
            "nav": NAV,
            "clock": engine.clock.describe(),
            "scenario_name": scenario.name if scenario else None,
            "csrf": csrf,
            "token_protected": token is not None,
            "refresh_seconds": _refresh(request.args.get("refresh")),
            "prefix": PREFIX,
            "notice": request.args.get("notice"),
        }

    def live() -> dict[str, Any]:
        """What the overview shows besides the engine's counts: clock, scenario, journal, faults."""
        scenario = emulator.scenario
        entries = emulator.journal.entries()
        rules = emulator.faults.describe()
        return {
            "clock": engine.clock.describe(),
            "scenario": {
                "name": scenario.name if scenario else None,
                "description": getattr(scenario, "description", None) if scenario else None,
            },
            "journal": {
                "kept": len(entries),
                "dropped": emulator.journal.dropped,
                "latest": [_entry_row(entry) for entry in reversed(entries[-10:])],
            },
            "faults": {
                "rules": len(rules),
                "active": sum(1 for rule in rules if rule["state"] == "active"),
                "fired": sum(rule["fired"] for rule in rules),
            },
        }

    def overview_data() -> dict[str, Any]:
        data = queries.overview(engine)
        data.update(live())
        return data

    # -- pages ------------------------------------------------------------------------------------
    @bp.get("/")
    def overview() -> Response:
        return page("overview.html", data=overview_data(), title="Overview", active="overview")

    @bp.get("/feed/overview.json")
    def overview_feed() -> Response:
        return _json(overview_data())

    @bp.get("/tasks")
    def tasks() -> Response:
        args = request.args
        status = (args.get("status") or "").strip() or None
        user = (args.get("user") or "").strip() or None
        name = (args.get("name") or "").strip() or None
        number, size = queries.clamp_page(args.get("page"), args.get("per_page"))
        result = queries.tasks_page(engine, status=status, user=user, name=name, page=number, per_page=size)
        return page(
            "tasks.html",
            title="Tasks",
            active="tasks",
            result=result,
            facets=queries.task_facets(engine),
            filters={"status": status, "user": user, "name": name},
            statuses=TASK_STATUSES,
            per_page_choices=queries.PER_PAGE,
        )

    @bp.get("/tasks/<int:task_id>")
    def task(task_id: int) -> Response:
        dataset_id, problem = _int_arg(request.args, "files", "a datasetID")
        number, size = queries.clamp_page(request.args.get("fpage"), request.args.get("fper_page"))
        detail = queries.task_detail(engine, task_id, dataset_id=dataset_id, files_page=number, files_per_page=size)
        if detail is None:
            return page("error.html", 404, title="No such task", message=f"There is no task {task_id}.")
        return page("task.html", title=f"Task {task_id}", active="tasks", d=detail, error=problem)

    @bp.get("/jobs")
    def jobs() -> Response:
        args = request.args
        status = (args.get("status") or "").strip() or None
        queue = (args.get("queue") or "").strip() or None
        task_id, problem = _int_arg(args, "task", "a jediTaskID")
        number, size = queries.clamp_page(args.get("page"), args.get("per_page"))
        if problem:
            result = queries.Page([], 0, 1, size)
        else:
            result = queries.jobs_page(engine, status=status, queue=queue, task=task_id, page=number, per_page=size)
        return page(
            "jobs.html",
            400 if problem else 200,
            title="Jobs",
            active="jobs",
            result=result,
            facets=queries.job_facets(engine, queue=queue, task=task_id),
            filters={"status": status, "queue": queue, "task": args.get("task") or ""},
            statuses=JOB_STATUSES,
            per_page_choices=queries.PER_PAGE,
            error=problem,
        )

    @bp.get("/jobs/<int:panda_id>")
    def job(panda_id: int) -> Response:
        number, size = queries.clamp_page(request.args.get("rpage"), request.args.get("rper_page"))
        detail = queries.job_detail(engine, panda_id, ranges_page=number, ranges_per_page=size)
        if detail is None:
            return page("error.html", 404, title="No such job", message=f"There is no job {panda_id}.")
        return page("job.html", title=f"Job {panda_id}", active="jobs", d=detail, attribute_groups=_job_groups(detail))

    @bp.get("/journal")
    def journal() -> Response:
        filters, problem = journal_filters(request.args)
        entries: list[dict] = []
        if not problem:
            try:
                entries = plane.journal(**filters)["entries"]
            except ControlError as exc:
                problem = exc.message
        return page(
            "journal.html",
            400 if problem else 200,
            title="Journal",
            active="journal",
            entries=[_entry_row(entry) for entry in reversed(entries)],
            summary=plane.journal_summary(),
            form=request.args,
            limit=filters.get("limit", JOURNAL_LIMIT),
            error=problem,
            kept=len(emulator.journal),
            dropped=emulator.journal.dropped,
        )

    # -- faults and clock ---------------------------------------------------------------------------
    def drill_presets() -> dict[str, dict[str, Any]]:
        """The shipped drills' fault rules (read once)."""
        if not drills:
            from ..faults import expand
            from ..scenario import ScenarioError, load, shipped_scenarios

            for name in shipped_scenarios():
                if not name.startswith("drill-"):
                    continue
                try:
                    loaded = load(name)
                except ScenarioError:
                    continue
                drills[name] = {"description": loaded.description, "rules": expand(loaded.faults or [])}
        return drills

    def faults_page(status: int = 200, error: str | None = None, form: Mapping[str, str] | None = None) -> Response:
        return page(
            "faults.html",
            status,
            title="Faults & clock",
            active="faults",
            rules=plane.faults(),
            drills=drill_presets(),
            error=error,
            form=form or {},
            clock_steps=CLOCK_STEPS,
            speeds=SPEEDS,
        )

    @bp.get("/faults")
    def faults() -> Response:
        return faults_page()

    @bp.post("/faults")
    def add_fault() -> Response:
        try:
            added = plane.add_fault(rule_from_form(request.form))
        except ControlError as exc:
            return faults_page(exc.status, exc.message, request.form)
        return back_to(url_for(".faults"), f"added rule {added['id']}")

    @bp.post("/faults/<rule_id>/<action>")
    def change_fault(rule_id: str, action: str) -> Response:
        try:
            if action == "disable":
                plane.update_fault(rule_id, disabled=True)
            elif action == "enable":
                plane.update_fault(rule_id, disabled=None)
            elif action == "delete":
                plane.delete_fault(rule_id)
            else:
                raise ControlError(404, f"no rule action {action!r}; actions: disable, enable, delete")
        except ControlError as exc:
            return faults_page(exc.status, exc.message)
        done = {"disable": "disabled", "enable": "enabled", "delete": "deleted"}[action]
        return back_to(url_for(".faults"), f"{done} rule {rule_id}")

    @bp.post("/faults/clear")
    def clear_faults() -> Response:
        cleared = plane.clear_faults()["cleared"]
        return back_to(url_for(".faults"), f"removed {cleared} rule{'s' if cleared != 1 else ''}")

    @bp.post("/faults/preset")
    def preset() -> Response:
        name = request.form.get("drill") or ""
        drill = drill_presets().get(name)
        if drill is None:
            return faults_page(404, f"no shipped drill {name!r}; drills: {', '.join(drill_presets()) or 'none'}")
        known = {rule["id"] for rule in plane.faults()}
        try:
            for definition in drill["rules"]:
                if definition["id"] in known:
                    plane.delete_fault(definition["id"])  # installing a drill again starts it again
                plane.add_fault(definition)
        except ControlError as exc:
            return faults_page(exc.status, exc.message)
        count = len(drill["rules"])
        return back_to(url_for(".faults"), f"installed {count} rule{'s' if count != 1 else ''} of {name}")

    @bp.post("/clock")
    def clock() -> Response:
        form = request.form
        operation = form.get("op") or ""
        try:
            if operation == "advance":
                plane.advance((form.get("seconds") or "").strip())
                engine.tick()  # what came due happens now, not at the next request
                done = f"clock advanced by {form.get('seconds')}"
            elif operation == "speed":
                plane.set_speed((form.get("speed") or "").strip())
                done = f"clock speed {form.get('speed')}"
            elif operation == "freeze":
                plane.freeze()
                done = "clock frozen"
            elif operation == "unfreeze":
                plane.unfreeze()
                done = "clock running"
            elif operation == "set":
                plane.set_time((form.get("time") or "").strip())
                engine.tick()
                done = f"clock set to {form.get('time')}"
            else:
                raise ControlError(400, f"op: expected advance, speed, freeze, unfreeze or set, got {operation!r}")
        except ControlError as exc:
            return faults_page(exc.status, exc.message)
        return back_to(url_for(".faults"), done)

    @bp.post("/reset")
    def reset() -> Response:
        plane.reset()
        return back_to(url_for(".overview"), "emulator reset to the loaded scenario")

    # -- login (with a control token) ----------------------------------------------------------------
    def safe_next(value: str | None) -> str:
        parts = urlsplit(value or "")
        if parts.scheme or parts.netloc or not parts.path.startswith(PREFIX):
            return url_for(".overview")
        return value or url_for(".overview")

    @bp.route("/login", methods=["GET", "POST"])
    def login() -> Response:
        target = safe_next(request.values.get("next"))
        if token is None:
            return redirect(target, code=303)
        if request.method == "GET":
            return page("login.html", 200, title="Log in", next=target, error=None, locked=True)
        given = request.form.get("token") or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            return page("login.html", 401, title="Log in", next=target, error="wrong control-plane token", locked=True)
        response = redirect(target, code=303)
        response.set_cookie(COOKIE, session, path=PREFIX, httponly=True, samesite="Strict")
        return response

    @bp.post("/logout")
    def logout() -> Response:
        response = redirect(url_for(".login"), code=303)
        response.delete_cookie(COOKIE, path=PREFIX)
        return response

    return bp


def _refresh(value: str | None) -> int:
    """Seconds between two polls of the overview feed (``?refresh=N``, 1 to 300)."""
    try:
        return min(max(int(value), 1), 300) if value else REFRESH_SECONDS
    except ValueError:
        return REFRESH_SECONDS


def _entry_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The journal fields the dashboard shows."""
    message = entry.get("message") or entry.get("error") or ""
    return {
        "seq": entry.get("seq"),
        "time": entry.get("time"),
        "method": entry.get("method"),
        "endpoint": entry.get("endpoint") or entry.get("path"),
        "identity": entry.get("identity"),
        "status": entry.get("status"),
        "success": entry.get("success"),
        "message": str(message)[:300],
        "fault": list(entry.get("fault") or []),
        "duration_ms": entry.get("duration_ms"),
        "transitions": len(entry.get("transitions") or ()),
    }


#: Job attributes shown in the page's summary sections (all of them are in the full table too).
JOB_ERRORS = (
    ("pilotErrorCode", "pilotErrorDiag"),
    ("exeErrorCode", "exeErrorDiag"),
    ("transExitCode", None),
    ("supErrorCode", "supErrorDiag"),
    ("ddmErrorCode", "ddmErrorDiag"),
    ("brokerageErrorCode", "brokerageErrorDiag"),
    ("jobDispatcherErrorCode", "jobDispatcherErrorDiag"),
    ("taskBufferErrorCode", "taskBufferErrorDiag"),
)
JOB_METRICS = (
    "jobMetrics",
    "startTime",
    "endTime",
    "cpuConsumptionTime",
    "cpuConsumptionUnit",
    "nEvents",
    "maxRSS",
    "maxVMEM",
    "maxSWAP",
    "maxPSS",
    "avgRSS",
    "avgVMEM",
    "avgSWAP",
    "avgPSS",
    "actualCoreCount",
    "hs06sec",
    "totRCHAR",
    "totWCHAR",
    "totRBYTES",
    "totWBYTES",
    "memory_leak",
    "memory_leak_x2",
    "batchID",
    "pilotID",
    "computingElement",
    "modificationHost",
    "pilotTiming",
    "cpu_architecture_level",
)


def _job_groups(detail: Mapping[str, Any]) -> dict[str, Any]:
    job = detail["job"]
    errors = []
    for code, diag in JOB_ERRORS:
        value = job.get(code)
        if value not in (None, 0, "0", "", "NULL"):
            errors.append({"code": code, "value": value, "diag": job.get(diag) if diag else None, "diag_name": diag})
    metrics = [(name, job.get(name)) for name in JOB_METRICS if job.get(name) not in (None, "", "NULL")]
    attributes = sorted((name, value) for name, value in job.items() if name != "Files")
    return {"errors": errors, "metrics": metrics, "attributes": attributes}
