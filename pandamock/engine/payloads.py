"""What a real pilot needs around its jobs: payload scripts, a local storage and the info system.

A **pilot queue** is a scenario queue with a ``payload`` section (``sites[].payload``, stored as
``pandamock_payload`` on the queue record): its generated jobs run the emulator's payload script
instead of an ATLAS transform, read small input files that really exist on disk and declare small
outputs, so an unchanged pilot (pilot3 with the generic plug-in) can run them end to end.

* **Payload script.** ``runpandamock`` (served at ``/trf/user/runpandamock``): echoes what it
  does, checks its inputs, sleeps ``--sleep`` seconds, writes each ``--output`` file
  (``--output-size`` bytes) and a ``jobReport.json``, and exits with ``--exit-code`` (66 when an
  input is missing). A job's ``transformation`` is stored as the server-relative path
  ``/trf/user/runpandamock``; the dispatcher answers it as an absolute URL on the address the
  pilot used (or on the ``trf_url`` setting), see :func:`resolve_transformation`.
* **Storage.** ``<data_dir>/storage/<RSE>/<Rucio deterministic path>``: the path the ``mv``
  copytool reads inputs from and moves outputs to (``<scope with dots as />/<md5[0:2]>/<md5[2:4]>/
  <lfn>``, md5 of ``scope:lfn``). An input replica's bytes are a pure function of ``(scope, lfn,
  size)`` (:func:`replica_bytes`), so its size and adler32 are known when the job is generated and
  the file is (re)written when the job is dispatched (:meth:`Payloads.ensure_inputs`) — also after a
  restart into a fresh data directory.
* **Info system.** The queuedata (``/cache/schedconfig/<queue>.all.json``), schedconfig
  (``/cache/schedconfig/<queue>.json``) and storage (``/cache/ddmendpoints.json``) documents the
  pilot reads instead of CRIC and cvmfs, made from the ``sites`` records: every DDM endpoint
  points its ``file://localhost`` protocols at the storage directory, every queue maps its
  transfer activities to the ``mv`` copytool with ``mv_final_destination``.
"""

from __future__ import annotations

import hashlib
import random
import uuid
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .outcome import Failure

if TYPE_CHECKING:
    from .core import Engine

#: The payload script of pilot-queue jobs.
PAYLOAD_SCRIPT = "runpandamock"
#: Where the payload scripts are served (the real server's ``/trf/user/`` directory).
TRF_PATH = "/trf/user/"
#: ``transformation`` of a pilot-queue job: resolved against the server's URL at dispatch.
PAYLOAD_TRANSFORMATION = TRF_PATH + PAYLOAD_SCRIPT
#: Queue-record key of a pilot queue's payload settings (not a SiteSpec attribute).
PAYLOAD_KEY = "pandamock_payload"
#: Defaults of a queue's ``payload`` section.
PAYLOAD_DEFAULTS: dict[str, Any] = {
    "sleep": 5,  # seconds the payload sleeps
    "exit_code": 0,  # the payload's exit code (non-zero: the pilot reports the job failed)
    "output_size": 1024,  # bytes of each output file
    "input_size": [1000, 64000],  # bytes of each generated input file (range)
    "jobs": None,  # activated jobs generated on the queue (None: the generate section's activated_jobs)
}
#: Exit code of the payload script when an input file is missing (sysexits EX_NOINPUT).
EXIT_NO_INPUT = 66
#: Transfer activities the pilot looks up in ``acopytools``/``astorages``.
ACTIVITIES = ("read_lan", "write_lan", "pr", "pw", "pl", "default")
#: Protocol activities of a storage endpoint (``arprotocols``).
PROTOCOL_ACTIVITIES = (
    "read_lan",
    "read_wan",
    "write_lan",
    "write_wan",
    "delete_lan",
    "delete_wan",
    "third_party_copy_read",
    "third_party_copy_write",
)
STORAGE_DIR = "storage"

PAYLOAD_SCRIPT_TEXT = r"""#!/bin/bash
# runpandamock: the payload of pandamock's pilot jobs (served at /trf/user/runpandamock).
#
#   runpandamock [--sleep S] [--exit-code N] [--input LFN[,LFN...]] [--output LFN[,LFN...]]
#                [--output-size BYTES] [--message TEXT]
#
# Prints what it does, checks that every input file is in the working directory (exit 66 if
# not), sleeps S seconds, writes each output file (BYTES bytes) and a jobReport.json, then exits
# with N.
sleep_s=0
code=0
inputs=""
outputs=""
size=1024
message=""
while [ $# -gt 0 ]; do
    case "$1" in
        --sleep) sleep_s="$2"; shift 2 ;;
        --exit-code) code="$2"; shift 2 ;;
        --input) inputs="$2"; shift 2 ;;
        --output) outputs="$2"; shift 2 ;;
        --output-size) size="$2"; shift 2 ;;
        --message) message="$2"; shift 2 ;;
        *) echo "runpandamock: ignoring argument $1"; shift ;;
    esac
done
echo "runpandamock: start $(date -u '+%Y-%m-%d %H:%M:%S') UTC on $(hostname) in $PWD"
echo "runpandamock: sleep=${sleep_s}s exit-code=${code} inputs=${inputs:-none} outputs=${outputs:-none}"
[ -n "$message" ] && echo "$message"
for lfn in ${inputs//,/ }; do
    if [ -r "$lfn" ]; then
        echo "runpandamock: input $lfn ($(wc -c < "$lfn") bytes)"
    else
        echo "runpandamock: input $lfn is missing" >&2
        code=66
    fi
done
if [ "$code" != 66 ]; then
    sleep "$sleep_s"
    for lfn in ${outputs//,/ }; do
        yes "pandamock output $lfn" | head -c "$size" > "$lfn"
        echo "runpandamock: wrote $lfn ($(wc -c < "$lfn") bytes)"
    done
fi
if [ "$code" = 0 ]; then exit_msg="OK"; else exit_msg="runpandamock exited with $code"; fi
printf '{"exitCode": %s, "exitMsg": "%s", "reportVersion": "pandamock-1.0"}' "$code" "$exit_msg" > jobReport.json
echo "runpandamock: end $(date -u '+%Y-%m-%d %H:%M:%S') UTC, exit code $code"
exit "$code"
"""

#: The payload scripts served under ``/trf/user/``.
SCRIPTS: dict[str, str] = {PAYLOAD_SCRIPT: PAYLOAD_SCRIPT_TEXT}


# --- pure helpers ---------------------------------------------------------------------------
def replica_bytes(scope: str, lfn: str, size: int) -> bytes:
    """The content of the emulator's replica of ``scope:lfn`` (``size`` bytes, readable text,
    the same every time)."""
    rnd = random.Random(f"pandamock-replica:{scope}:{lfn}")
    line = f"pandamock input {scope}:{lfn} {rnd.getrandbits(64):016x}\n".encode()
    repeats = size // len(line) + 1
    return (line * repeats)[: max(int(size), 0)]


def adler32_of(data: bytes) -> str:
    """PanDA's checksum form: ``ad:`` and 8 hex digits."""
    return f"ad:{zlib.adler32(data) & 0xFFFFFFFF:08x}"


def rucio_path(scope: str, lfn: str) -> str:
    """Rucio's deterministic path, as the pilot builds it: ``<scope, dots as />/<md5[0:2]>/<md5[2:4]>/<lfn>``."""
    digest = hashlib.md5(f"{scope}:{lfn}".encode()).hexdigest()
    parts = [part for part in scope.split(".") if part] + [digest[0:2], digest[2:4], lfn]
    return "/".join(parts)


def resolve_transformation(value: Any, trf_base: str) -> Any:
    """A ``transformation`` as a pilot receives it: a server-relative ``/trf/user/<name>`` becomes
    ``<trf_base>/<name>`` (e.g. ``http://127.0.0.1:25080/trf/user/runpandamock``); anything else
    (``Sim_tf.py``, absolute URLs) is unchanged."""
    if isinstance(value, str) and value.startswith(TRF_PATH):
        return f"{trf_base.rstrip('/')}/{value[len(TRF_PATH) :]}"
    return value


def payload_settings(queue: Mapping | None) -> dict[str, Any] | None:
    """The payload settings of a pilot queue (defaults filled in), None for other queues."""
    if not queue:
        return None
    configured = queue.get(PAYLOAD_KEY)
    if configured is None or configured is False:
        return None
    settings = dict(PAYLOAD_DEFAULTS)
    if isinstance(configured, Mapping):
        settings.update(configured)
    size = settings["input_size"]
    sizes = [int(size)] if isinstance(size, (int, float)) else [int(value) for value in size or (0,)]
    settings["input_size"] = (min(sizes), max(sizes))
    return settings


def is_pilot_queue(queue: Mapping | None) -> bool:
    return payload_settings(queue) is not None


def payload_parameters(
    inputs: Iterable[str],
    outputs: Iterable[str],
    sleep: float = 5,
    exit_code: int = 0,
    output_size: int = 1024,
    message: str | None = None,
) -> str:
    """The ``jobParameters`` that make ``runpandamock`` behave as asked."""
    sleep_text = f"{sleep:g}" if isinstance(sleep, float) else str(sleep)
    parts = [f"--sleep {sleep_text}", f"--exit-code {int(exit_code)}"]
    inputs = [lfn for lfn in inputs if lfn]
    outputs = [lfn for lfn in outputs if lfn]
    if inputs:
        parts.append(f"--input {','.join(inputs)}")
    if outputs:
        parts.append(f"--output {','.join(outputs)}")
    parts.append(f"--output-size {int(output_size)}")
    if message:
        safe = "".join(char for char in message if char.isalnum() or char in " ._-:=")
        parts.append(f"--message '{safe}'")
    return " ".join(parts)


def _storage_type(rse: str) -> str:
    suffix = rse.rsplit("_", 1)[-1] if "_" in rse else rse
    return suffix.upper()


class Payloads:
    """Payload scripts, the local storage and the info-system documents (``engine.payloads``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        engine.jobs.dispatch_callbacks.append(self._dispatched)

    # -- storage --------------------------------------------------------------------------------
    @property
    def storage_dir(self) -> Path:
        """Root of the emulated storage: ``<data_dir>/storage``."""
        return self.engine.files.data_dir / STORAGE_DIR

    def rse_dir(self, rse: str) -> Path:
        """The directory of one DDM endpoint (RSE)."""
        if not rse or "/" in rse or rse.startswith(".") or "\x00" in rse:
            raise Failure(f"invalid DDM endpoint name {rse!r}")
        return self.storage_dir / rse

    def replica_path(self, rse: str, scope: str, lfn: str) -> Path:
        """Where the replica of ``scope:lfn`` on ``rse`` is (the path the ``mv`` copytool uses)."""
        path = self.rse_dir(rse) / rucio_path(scope, lfn)
        if self.rse_dir(rse).resolve() not in path.resolve().parents:
            raise Failure(f"invalid file name {scope}:{lfn}")
        return path

    def ensure_replica(self, rse: str, scope: str, lfn: str, size: int) -> Path:
        """Write the replica of ``scope:lfn`` on ``rse`` unless it is there already."""
        path = self.replica_path(rse, scope, lfn)
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.part")
            temporary.write_bytes(replica_bytes(scope, lfn, size))
            temporary.replace(path)
        return path

    def _dispatched(self, job: Mapping) -> None:
        """Dispatch hook (inside the dispatch operation): inputs of payload jobs exist on disk."""
        if job.get("transformation") == PAYLOAD_TRANSFORMATION:
            self.ensure_inputs(job)

    def ensure_inputs(self, job: Mapping) -> list[Path]:
        """Write the input replicas of a payload job at its queue's input endpoint; an input
        without size or checksum gets the emulator's replica values (stored in the job)."""
        with self.engine.operation():
            site = self.engine.world.queue(job.get("computingSite")) or {}
            rse = site.get("ddm_input") or site.get("ddm")
            if not rse:
                return []
            paths = []
            files = []
            changed = False
            for file in job.get("Files") or ():
                if file.get("type") == "input" and file.get("lfn") and file.get("scope"):
                    size = file.get("fsize") or PAYLOAD_DEFAULTS["output_size"]
                    paths.append(self.ensure_replica(rse, file["scope"], file["lfn"], int(size)))
                    if not file.get("fsize") or file.get("checksum") in (None, "", "NULL"):
                        data = replica_bytes(file["scope"], file["lfn"], int(size))
                        file = dict(file, fsize=len(data), checksum=adler32_of(data))
                        changed = True
                files.append(file)
            if changed:
                self.engine.jobs.table.update(job["PandaID"], {"Files": files})
            return paths

    # -- scripts --------------------------------------------------------------------------------
    def script(self, name: str) -> str | None:
        """A payload script by name (``/trf/user/<name>``), None when unknown."""
        return SCRIPTS.get(name)

    # -- info system ----------------------------------------------------------------------------
    def queuedata(self, queue_name: str) -> dict | None:
        """The queue description the pilot reads from ``--queuedata-url`` (CRIC's
        ``<queue>.all.json``), None for an unknown queue."""
        with self.engine.operation():
            site = self.engine.world.queue(queue_name)
            return self._queuedata(site) if site is not None else None

    def schedconfig(self, queue_name: str) -> dict | None:
        """``{<queue>: <queue description>}`` (CRIC's ``<queue>.json``, ``LOCAL_AGIS_SCHEDCONF``)."""
        data = self.queuedata(queue_name)
        return {queue_name: data} if data is not None else None

    def ddm_endpoints(self) -> dict[str, dict]:
        """Every DDM endpoint of the queues, keyed by name (CRIC's ``ddmendpoints.json``), each with
        ``file://localhost`` protocols on its storage directory."""
        with self.engine.operation():
            sites = sorted(self.engine.world.sites.values(), key=lambda s: s["sitename"])
            owners: dict[str, Mapping] = {}
            for site in sites:
                for rse in self._endpoints_of(site):
                    owners.setdefault(rse, site)
            documents = {}
            for pk, rse in enumerate(sorted(owners), start=1):
                documents[rse] = self._endpoint(pk, rse, owners[rse])
            return documents

    def _endpoints_of(self, site: Mapping) -> list[str]:
        names = [site.get("ddm"), site.get("ddm_input"), site.get("ddm_output")]
        names += list(site.get("ddm_endpoints_input") or []) + list(site.get("ddm_endpoints_output") or [])
        return [name for name in dict.fromkeys(names) if name]

    def _endpoint(self, pk: int, rse: str, site: Mapping) -> dict:
        directory = self.rse_dir(rse)
        directory.mkdir(parents=True, exist_ok=True)  # the storage exists before any file is in it
        path = str(directory)
        protocol = {
            "endpoint": "file://localhost",
            "flavour": "POSIX",
            "id": pk,
            "path": path,
            "protocol": "file",
        }
        arprotocols = {activity: [dict(protocol)] for activity in PROTOCOL_ACTIVITIES}
        kind = _storage_type(rse)
        return {
            "name": rse,
            "id": pk,
            "type": kind,
            "token": f"ATLAS{kind}",
            "is_deterministic": True,
            "state": "ACTIVE",
            "site": site.get("pandasite") or site["sitename"],
            "rc_site": site.get("pandasite") or site["sitename"],
            "cloud": site.get("cloud"),
            "tier_level": _tier_level(site.get("tier")),
            "resource": {"endpoint": "file://localhost", "flavour": "POSIX", "path": path},
            "arprotocols": arprotocols,
            "rprotocols": {str(pk): dict(protocol, activities=list(PROTOCOL_ACTIVITIES), settings={})},
            "aprotocols": {activity: [["file://localhost" + path, 1, pk]] for activity in PROTOCOL_ACTIVITIES},
        }

    def _queuedata(self, site: Mapping) -> dict:
        name = site["sitename"]
        rse_in = site.get("ddm_input") or site.get("ddm")
        rse_out = site.get("ddm_output") or site.get("ddm")
        catchall = " ".join(part for part in ("mv_final_destination", site.get("catchall") or "") if part)
        storages = {
            activity: [rse_in if activity.startswith("read") or activity == "pr" else rse_out]
            for activity in ACTIVITIES
        }
        return {
            "name": name,
            "nickname": site.get("nickname") or name,
            "panda_resource": name,
            "siteid": name,
            "atlas_site": site.get("pandasite") or name,
            "gstat": site.get("pandasite") or name,
            "cloud": site.get("cloud"),
            "country": site.get("countryGroup"),
            "tier": site.get("tier"),
            "tier_level": _tier_level(site.get("tier")),
            "type": site.get("type"),
            "resource_type": "GRID",
            "state": "ACTIVE",
            "status": site.get("status"),
            "pilot_manager": "Harvester",
            "harvester": "pandamock",
            "capability": site.get("capability"),
            "corecount": site.get("coreCount") or 1,
            "corepower": site.get("corepower"),
            "maxrss": site.get("maxrss") or 0,
            "minrss": site.get("minrss") or 0,
            "maxtime": site.get("maxtime") or 0,
            "mintime": site.get("mintime") or 0,
            "maxwdir": site.get("maxwdir") or 0,
            "maxinputsize": site.get("maxinputsize") or 0,
            "timefloor": 0,
            "jobseed": site.get("jobseed"),
            "catchall": catchall,
            "environ": "",
            "appdir": "",
            "cmtconfig": "",
            "container_type": "",
            "container_options": "",
            "is_cvmfs": False,
            "direct_access_lan": False,
            "direct_access_wan": False,
            "allow_lan": True,
            "allow_wan": False,
            "use_pcache": False,
            "pledgedcpu": 0,
            "params": {},
            "ddm": site.get("ddm"),
            "copytools": {"mv": {"setup": ""}},
            "acopytools": {activity: ["mv"] for activity in ACTIVITIES},
            "astorages": storages,
            "acopytools_schemas": {},
        }

    # -- jobs -----------------------------------------------------------------------------------
    def create_jobs(
        self,
        queue: str,
        count: int = 1,
        *,
        sleep: float | None = None,
        exit_code: int | None = None,
        output_size: int | None = None,
        input_files: int = 1,
        input_size: int = 4096,
        owner: str | None = None,
        prod_source_label: str = "managed",
        message: str | None = None,
    ) -> list[dict]:
        """Create ``count`` payload jobs on ``queue`` as ``job/submit`` stores jobs (``defined``,
        ``activated`` after the ``job_activation`` delay; no JEDI task): ``sleep``, ``exit_code``
        and ``output_size`` default to the queue's payload settings (:data:`PAYLOAD_DEFAULTS` on a
        queue that is not a pilot queue); each job reads ``input_files`` files of ``input_size``
        bytes (written to the storage when it is dispatched) and writes one output and a log.
        A long job is a big ``sleep``, a failing one a non-zero ``exit_code``."""
        with self.engine.operation():
            site = self.engine.world.queue(queue)
            if site is None:
                raise Failure(f"unknown queue {queue!r}")
            if count < 1 or input_files < 0 or input_size < 0:
                raise Failure("count must be at least 1, input_files and input_size not negative")
            settings = payload_settings(site) or dict(PAYLOAD_DEFAULTS)
            for key, value in (("sleep", sleep), ("exit_code", exit_code), ("output_size", output_size)):
                if value is not None:
                    settings[key] = value
            user = self.engine.world.user(owner) if owner else self.engine.world.default_user()
            if user is None:
                raise Failure(f"unknown identity {owner!r}")
            jobs = []
            for _ in range(count):
                jobs.append(
                    self._payload_job(site, user, settings, input_files, input_size, prod_source_label, message)
                )
            return self.engine.jobs.create_jobs(jobs, status="defined", owner_dn=user["dn"])

    def _payload_job(
        self,
        site: Mapping,
        user: Mapping,
        settings: Mapping[str, Any],
        n_inputs: int,
        input_size: int,
        label: str,
        message: str | None,
    ) -> dict:
        ids = self.engine.ids
        panda_id = ids.next("PandaID")
        scope = "pandamock"
        base = f"{scope}.{site['sitename']}.{panda_id}"
        rse_out = site.get("ddm_output") or site.get("ddm")
        token = f"dst:{rse_out}" if rse_out else None
        guid = self._guid
        files = []
        inputs = []
        for i in range(1, n_inputs + 1):
            lfn = f"{base}.input.{i}.txt"
            data = replica_bytes(scope, lfn, input_size)
            inputs.append(lfn)
            files.append(
                {
                    "lfn": lfn,
                    "type": "input",
                    "GUID": guid(),
                    "dataset": f"{scope}.{site['sitename']}.payload.input",
                    "prodDBlock": f"{scope}.{site['sitename']}.payload.input",
                    "fsize": len(data),
                    "checksum": adler32_of(data),
                    "scope": scope,
                    "status": "ready",
                }
            )
        output = f"{base}.output.txt"
        for kind, lfn, dataset in (("output", output, "output"), ("log", f"{base}.job.log.tgz", "log")):
            files.append(
                {
                    "lfn": lfn,
                    "type": kind,
                    "GUID": guid(),
                    "dataset": f"{scope}.{site['sitename']}.payload.{dataset}",
                    "destinationDBlock": f"{scope}.{site['sitename']}.payload.{dataset}_sub{panda_id:010d}",
                    "destinationDBlockToken": token,
                    "destinationSE": site["sitename"],
                    "scope": scope,
                    "status": "unknown",
                }
            )
        parameters = payload_parameters(
            inputs,
            [output],
            sleep=settings["sleep"],
            exit_code=settings["exit_code"],
            output_size=settings["output_size"],
            message=message or settings.get("message"),
        )
        return {
            "PandaID": panda_id,
            "jobDefinitionID": ids.next("jobDefinitionID"),
            "jobName": f"{base}.payload",
            "transformation": PAYLOAD_TRANSFORMATION,
            "jobParameters": parameters,
            "prodSourceLabel": label,
            "processingType": "pandamock",
            "computingSite": site["sitename"],
            "destinationSE": site["sitename"],
            "AtlasRelease": "Atlas-24.0.53",
            "homepackage": "AtlasOffline/24.0.53",
            "cmtConfig": "x86_64-el9-gcc13-opt",
            "coreCount": 1,
            "minRamCount": 500,
            "minRamUnit": "MB",
            "maxDiskCount": 100,
            "maxDiskUnit": "MB",
            "maxCpuCount": 3600,
            "maxWalltime": 3600,
            "attemptNr": 1,
            "maxAttempt": 3,
            "assignedPriority": 1000,
            "currentPriority": 1000,
            "prodDBlock": files[0]["dataset"] if inputs else None,
            "destinationDBlock": files[-2]["destinationDBlock"],
            "nInputFiles": n_inputs,
            "nInputDataFiles": n_inputs,
            "VO": user.get("vo") or "atlas",
            "Files": files,
        }

    def _guid(self) -> str:
        return str(uuid.UUID(int=self.engine.random.getrandbits(128), version=4)).upper()


def _tier_level(tier: Any) -> int | None:
    if isinstance(tier, str) and tier[1:].isdigit():
        return int(tier[1:])
    return None
