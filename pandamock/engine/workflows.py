"""PanDA-native workflows: a DAG of steps, each a JEDI task (``workflow/*``; ``engine.workflows``).

A workflow is registered from a raw request (``submit_workflow_raw_request``, what panda-client
sends) or from a definition (``submit_workflow``). After the ``task_step`` delay it is parsed:
a definition (or a raw request carrying a description inline: ``steps`` of ``type: task`` with
``task_params``) becomes steps and data; a raw request whose description is in a sandbox cannot be
parsed by pandamock and the workflow fails with that reason. Then the workflow runs: every step
whose parent steps are done submits its task (``${WFID}`` and ``${TASKID}`` placeholders filled,
``{step/NAME}`` dataset references resolved to the parent task's output), and follows it
(``submitted`` → ``running`` → ``done``/``failed``); the workflow is ``done`` when every step is,
``failed`` when a step failed.

Statuses are those of PanDA's ``workflow_base`` (workflow: registered, parsed, checked, starting,
running, done, failed, cancelled; step: registered, pending, ready, submitted, running, done,
failed, cancelled; data: registered, generating_start, generating_ready, done_generated, ...).
``workflow/get_workflow_details`` (which panda-client 2.2.0 calls) reports a workflow with its
steps, their relations and progress, and its data, as pbook's ``show_native_workflow`` reads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .naming import clean_user_id
from .outcome import Failure
from .statuses import TASK_FINAL
from .store import HashIndex

if TYPE_CHECKING:
    from .core import Engine

_REFERENCE = re.compile(r"\{([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)\}")
TASK_DONE = ("done", "finished")
TASK_FAILED = ("failed", "broken", "aborted", "exhausted")


def _fill(value: Any, replacements: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for key, text in replacements.items():
            value = value.replace(key, text)
        return value
    if isinstance(value, list):
        return [_fill(item, replacements) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, replacements) for key, item in value.items()}
    return value


def _references(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, str):
        found.update(match.group(1) for match in _REFERENCE.finditer(value))
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        for item in value.values():
            found |= _references(item)
    return found


class Workflows:
    """Workflows, their steps and data."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        store = engine.store
        self.workflows = store.create_table("workflows", key="workflow_id")
        self.steps = store.create_table(
            "workflow_steps",
            key="step_id",
            indexes=[HashIndex("by_workflow", ["workflow_id"]), HashIndex("by_target", ["target_id"])],
        )
        self.data = store.create_table(
            "workflow_data", key="data_id", indexes=[HashIndex("by_workflow", ["workflow_id"])]
        )
        engine.on("workflow_step", self._step_due)
        engine.tasks.status_callbacks.append(self._task_changed)

    # -- registration -----------------------------------------------------------------------------
    def _register(self, label: str, dn: str, name: str | None, raw: Any = None, definition: Any = None) -> int:
        now = self.engine.now()
        workflow_id = self.engine.ids.next("workflow_id")
        self.workflows.insert(
            {
                "workflow_id": workflow_id,
                "name": name,
                "parent_id": None,
                "loop_count": 0,
                "status": "registered",
                "prodsourcelabel": label,
                "username": clean_user_id(dn) or dn,
                "dn": dn,
                "creation_time": now,
                "start_time": None,
                "end_time": None,
                "modification_time": now,
                "raw_request_json": json.dumps(raw) if raw is not None else None,
                "definition_json": json.dumps(definition) if definition is not None else None,
                "reason": None,
            }
        )
        self.engine.schedule("workflow_step", "task_step", workflow_id=workflow_id)
        return workflow_id

    def submit_raw(self, params: Any, dn: str) -> int:
        """``submit_workflow_raw_request``: always ``prodSourceLabel`` user."""
        if isinstance(params, str):
            try:
                params = json.loads(params)
            except ValueError as exc:
                raise Failure(f"Failed to parse params: {params} {exc}") from None
        if not isinstance(params, Mapping):
            raise Failure("Failed to submit raw workflow request")
        name = params.get("workflow_name") or params.get("name") or params.get("outDS")
        with self.engine.operation():
            return self._register("user", dn, str(name) if name else None, raw=dict(params))

    def submit_definition(self, definition: Mapping, dn: str, production: bool) -> int:
        """``submit_workflow``: ``managed`` with the production role, else ``user``."""
        with self.engine.operation():
            name = definition.get("workflow_name") or definition.get("name")
            return self._register("managed" if production else "user", dn, name, definition=dict(definition))

    # -- progression ------------------------------------------------------------------------------
    def _touch(self, workflow_id: int, changes: Mapping[str, Any]) -> None:
        values = dict(changes)
        values["modification_time"] = self.engine.now()
        self.workflows.update(workflow_id, values)

    def _step_due(self, workflow_id: int) -> None:
        workflow = self.workflows.get(workflow_id)
        if workflow is None:
            return
        if workflow["status"] == "registered":
            self._parse(workflow)
        elif workflow["status"] in ("parsed", "checked", "starting"):
            order = ("parsed", "checked", "starting", "running")
            target = order[order.index(workflow["status"]) + 1]
            changes: dict[str, Any] = {"status": target}
            if target == "running":
                changes["start_time"] = self.engine.now()
            self._touch(workflow_id, changes)
            if target == "running":
                self._advance(workflow_id)
            else:
                self.engine.schedule("workflow_step", "task_step", workflow_id=workflow_id)

    def _description(self, workflow: Mapping) -> Mapping | None:
        if workflow.get("definition_json"):
            return json.loads(workflow["definition_json"])
        raw = json.loads(workflow["raw_request_json"] or "{}")
        for key in ("workflow_description", "description", "workflow"):
            if isinstance(raw.get(key), Mapping) and "steps" in raw[key]:
                return raw[key]
        return raw if "steps" in raw else None

    def _parse(self, workflow: Mapping) -> None:
        workflow_id = workflow["workflow_id"]
        description = self._description(workflow)
        if description is None:
            raw = json.loads(workflow["raw_request_json"] or "{}")
            where = raw.get("sourceURL") or "the sandbox"
            self._fail(
                workflow_id,
                f"cannot parse the workflow description: it is in a sandbox ({where}) that pandamock does not read",
            )
            return
        steps = description.get("steps")
        if isinstance(steps, list):
            steps = {
                str(step.get("name") or f"step{i}"): step for i, step in enumerate(steps) if isinstance(step, Mapping)
            }
        if not isinstance(steps, Mapping) or not steps:
            self._fail(workflow_id, "the workflow description has no steps")
            return
        now = self.engine.now()
        ids: dict[str, int] = {}
        for name, spec in steps.items():
            if not isinstance(spec, Mapping) or not isinstance(spec.get("task_params"), Mapping):
                self._fail(workflow_id, f"step {name} has no task_params")
                return
            ids[name] = self.engine.ids.next("workflow_step_id")
        for member, (name, spec) in enumerate(steps.items()):
            parents = [p for p in spec.get("parents") or [] if p in ids] + [
                ref for ref in _references(spec.get("task_params")) if ref in ids and ref != name
            ]
            self.steps.insert(
                {
                    "step_id": ids[name],
                    "name": name,
                    "workflow_id": workflow_id,
                    "member_id": member,
                    "type": spec.get("type") or "task",
                    "status": "registered",
                    "flavor": "panda_task",
                    "target_id": None,
                    "prod_source_label": spec["task_params"].get("prodSourceLabel"),
                    "parent_step_ids": sorted({ids[p] for p in parents}),
                    "definition_json": json.dumps(dict(spec)),
                    "creation_time": now,
                    "start_time": None,
                    "end_time": None,
                    "modification_time": now,
                    "reason": None,
                }
            )
        for kind in ("inputs", "outputs"):
            for name, value in (description.get(kind) or {}).items():
                self.data.insert(
                    {
                        "data_id": self.engine.ids.next("workflow_data_id"),
                        "name": str(value if kind == "inputs" else name),
                        "workflow_id": workflow_id,
                        "type": "input" if kind == "inputs" else "output",
                        "status": "checked_exist" if kind == "inputs" else "registered",
                        "flavor": "ddm_collection",
                        "target_id": None,
                        "source": value.get("from") if isinstance(value, Mapping) else None,
                        "creation_time": now,
                        "modification_time": now,
                    }
                )
        self._touch(workflow_id, {"status": "parsed", "definition_json": json.dumps(dict(description))})
        self.engine.schedule("workflow_step", "task_step", workflow_id=workflow_id)

    def _fail(self, workflow_id: int, reason: str) -> None:
        self._touch(workflow_id, {"status": "failed", "reason": reason, "end_time": self.engine.now()})

    def _output_of(self, step: Mapping, stream: str) -> str | None:
        task_id = step.get("target_id")
        if not task_id:
            return None
        datasets = [
            d for d in self.engine.store.table("datasets").find("by_task", int(task_id)) if d.get("type") == "output"
        ]
        for dataset in datasets:
            if f".{stream}." in dataset["datasetName"] or dataset["datasetName"].endswith(stream):
                return dataset["datasetName"]
        return datasets[0]["datasetName"] if datasets else None

    def _advance(self, workflow_id: int) -> None:
        """Submit the tasks of steps whose parents are done; end the workflow when it is over."""
        workflow = self.workflows.get(workflow_id)
        if workflow is None or workflow["status"] != "running":
            return
        steps = {step["step_id"]: step for step in self.steps.find("by_workflow", workflow_id)}
        by_name = {step["name"]: step for step in steps.values()}
        for step in sorted(steps.values(), key=lambda s: s["member_id"]):
            if step["status"] not in ("registered", "pending"):
                continue
            parents = [steps[p] for p in step["parent_step_ids"]]
            if any(p["status"] in ("failed", "cancelled") for p in parents):
                self._step_update(step["step_id"], {"status": "cancelled", "reason": "a parent step failed"})
                continue
            if not all(p["status"] == "done" for p in parents):
                if step["status"] == "registered":
                    self._step_update(step["step_id"], {"status": "pending"})
                continue
            self._submit_step(workflow, step, by_name)
        steps = list(self.steps.find("by_workflow", workflow_id))
        if all(step["status"] in ("done", "failed", "cancelled") for step in steps):
            failed = [step["name"] for step in steps if step["status"] != "done"]
            now = self.engine.now()
            if failed:
                self._touch(
                    workflow_id,
                    {"status": "failed", "reason": f"steps failed: {', '.join(sorted(failed))}", "end_time": now},
                )
            else:
                self._touch(workflow_id, {"status": "done", "end_time": now})
            for data in self.data.find("by_workflow", workflow_id):
                if data["type"] == "output":
                    self.data.update(
                        data["data_id"],
                        {"status": "done_generated" if not failed else "cancelled", "modification_time": now},
                    )

    def _step_update(self, step_id: int, changes: Mapping[str, Any]) -> None:
        values = dict(changes)
        values["modification_time"] = self.engine.now()
        self.steps.update(step_id, values)

    def _submit_step(self, workflow: Mapping, step: Mapping, by_name: Mapping[str, Mapping]) -> None:
        spec = json.loads(step["definition_json"])
        params = _fill(dict(spec["task_params"]), {"${WFID}": str(workflow["workflow_id"])})

        def resolve(text: Any) -> Any:
            if isinstance(text, str):
                return _REFERENCE.sub(
                    lambda m: self._output_of(by_name.get(m.group(1)) or {}, m.group(2)) or m.group(0), text
                )
            if isinstance(text, list):
                return [resolve(item) for item in text]
            if isinstance(text, dict):
                return {key: resolve(item) for key, item in text.items()}
            return text

        params = resolve(params)
        tasks = self.engine.tasks
        dn = workflow.get("dn") or ""
        production = workflow["prodsourcelabel"] == "managed"
        params.setdefault("userName", workflow.get("username"))
        if not production:
            params["userName"] = workflow.get("username")
        task_id = self.engine.ids.next("jediTaskID")
        params = _fill(params, {"${TASKID}": str(task_id)})
        tasks.register(params, dn, task_id=task_id)
        self._step_update(
            step["step_id"], {"status": "submitted", "target_id": str(task_id), "start_time": self.engine.now()}
        )
        for data in self.data.find("by_workflow", workflow["workflow_id"]):
            if data.get("source") and str(data["source"]).split("/")[0] == step["name"]:
                self.data.update(
                    data["data_id"], {"status": "generating_start", "target_id": str(task_id), "flavor": "panda_task"}
                )

    def _task_changed(self, task: Mapping, previous: str | None) -> None:
        """:attr:`Tasks.status_callbacks` hook: a step follows its task."""
        for step in self.steps.find("by_target", str(task["jediTaskID"])):
            status = task["status"]
            if status in TASK_DONE:
                self._step_update(step["step_id"], {"status": "done", "end_time": self.engine.now()})
                for data in self.data.find("by_workflow", step["workflow_id"]):
                    if data.get("target_id") == step["target_id"]:
                        self.data.update(data["data_id"], {"status": "done_generated"})
            elif status in TASK_FAILED or status in TASK_FINAL:
                self._step_update(
                    step["step_id"],
                    {
                        "status": "failed",
                        "end_time": self.engine.now(),
                        "reason": task.get("errorDialog") or f"task {status}",
                    },
                )
            elif status in ("scouting", "running") and step["status"] == "submitted":
                self._step_update(step["step_id"], {"status": "running"})
            else:
                continue
            self._advance(step["workflow_id"])

    # -- reading ----------------------------------------------------------------------------------
    def details(self, workflow_id: int) -> dict | None:
        """The workflow with its steps (relations, progress) and data, as pbook reads it."""
        with self.engine.operation():
            workflow = self.workflows.get(workflow_id)
            if workflow is None:
                return None
            tasks = self.engine.tasks
            steps = []
            for step in sorted(self.steps.find("by_workflow", workflow_id), key=lambda s: s["member_id"]):
                progress = None
                if step.get("target_id"):
                    task = tasks.get(int(step["target_id"]))
                    if task is not None:
                        info = tasks.task_dict(task)
                        progress = {
                            "pct_finished": info["pctFinished"],
                            "pct_failed": info["pctFailed"],
                            "n_files": info["nFiles"],
                            "n_files_finished": info["nFilesFinished"],
                            "n_files_failed": info["nFilesFailed"],
                            "task_status": task["status"],
                        }
                steps.append(
                    {
                        "step_id": step["step_id"],
                        "member_id": step["member_id"],
                        "name": step["name"],
                        "type": step["type"],
                        "status": step["status"],
                        "flavor": step["flavor"],
                        "prod_source_label": step.get("prod_source_label"),
                        "target_id": step.get("target_id"),
                        "parent_step_ids": list(step["parent_step_ids"]),
                        "progress": progress,
                        "reason": step.get("reason"),
                        "creation_time": step.get("creation_time"),
                        "start_time": step.get("start_time"),
                        "end_time": step.get("end_time"),
                    }
                )
            data = [
                {
                    "data_id": item["data_id"],
                    "name": item["name"],
                    "type": item["type"],
                    "status": item["status"],
                    "flavor": item["flavor"],
                    "target_id": item.get("target_id"),
                }
                for item in sorted(self.data.find("by_workflow", workflow_id), key=lambda d: d["data_id"])
            ]
            return {
                "workflow_id": workflow_id,
                "name": workflow.get("name"),
                "status": workflow["status"],
                "submitted_as": workflow["prodsourcelabel"],
                "user": workflow.get("username"),
                "parent_id": workflow.get("parent_id"),
                "reason": workflow.get("reason"),
                "creation_time": workflow.get("creation_time"),
                "start_time": workflow.get("start_time"),
                "end_time": workflow.get("end_time"),
                "modification_time": workflow.get("modification_time"),
                "steps": steps,
                "data": data,
            }
