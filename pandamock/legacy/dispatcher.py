"""The legacy functions under ``/server/panda/<function>`` that pilots call, on the v1 engine.

Each function keeps the old dispatcher's signature (``JobDispatcher.py`` / ``UserIF.py`` of the
last server that had them: legacy names, defaults, every value a string from a form or whatever
JSON type the client sent), converts its values the way the old code did, makes the same engine
call as its v1 counterpart and answers in the old ``Protocol.Response`` form:

=============================  ======================================  ====================
legacy function                engine call (v1 endpoint)               answer
=============================  ======================================  ====================
getJob                         jobs.acquire (pilot/acquire_jobs)       job dict, or 20/60
updateJob                      jobs.update (pilot/update_job)          ``command``
updateJobsInBulk               updateJob per job                       ``[ok, [answers]]``
getStatus                      jobs.pilot_status (pilot/get_job_status)  ``status``/``attemptNr``
getEventRanges                 events.acquire (event/acquire_event_ranges)  ``eventRanges``
updateEventRanges              events.update (event/update_event_ranges)   ``Returns``/``Command``
updateEventRange               events.update_single                    ``Command``
checkEventsAvailability        events.available_count                  ``nEventRanges``
updateWorkerPilotStatus        harvester.update_worker_pilot_status    StatusCode
getResourceTypes               world.resource_type_list                ``ResourceTypes``
getProxy, get_access_token     credentials.get_proxy/get_access_token  ``userProxy`` (JSON)
getKeyPair                     credentials.get_key_pair                ``publicKey``/``privateKey``
get_token_key                  credentials.get_token_key               ``tokenKey``
setDebugMode                   jobs.set_debug_mode (job/set_debug_mode)  plain text
=============================  ======================================  ====================

Roles: the old dispatcher's check (``_checkRole``): a production or pilot VOMS role, **any**
``/atlas/`` FQAN (its "VOMS patch"), or a DN of the ``production_dns`` setting. A pilot token with
``Origin: atlas.pilot`` passes; in open mode so does a request without credentials (the default
identity). Job transformations ``/trf/user/<script>`` are answered as URLs on the server the pilot
reached (or on the ``trf_url`` setting).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..engine.jobs import VALID_JOB_STATES, update_params
from ..engine.outcome import Failure
from ..engine.payloads import resolve_transformation
from .pipeline import call_function, encoded_value
from .registry import (
    SC_FAILED,
    SC_INVALID,
    SC_MISSING_KEY,
    SC_NO_JOBS,
    SC_PERMISSION,
    SC_PROXY_ERROR,
    SC_ROLE,
    SC_SUCCESS,
    LegacyFunctions,
    Raw,
    Response,
)
from .wire import LegacyRequest

functions = LegacyFunctions()

SCHEMA_META = "ATLAS_PANDAMETA"
MESSAGE_ROLE = "no production/pilot role in VOMS FQANs or non pilot owner"
MESSAGE_PILOT_PERMISSION = "production or pilot role is required"
MESSAGE_NO_DN = "failed to retrieve DN"
MESSAGE_SSL = "SSL secure connection is required"
VALID_WORKER_STATES = ("started", "finished")

#: VOMS attributes of production and pilot roles (``_checkRole``).
PRODUCTION_ATTRIBUTES = (
    "/atlas/usatlas/Role=production",
    "/atlas/usatlas/Role=pilot",
    "/atlas/Role=production",
    "/atlas/Role=pilot",
    "/osg/Role=pilot",
    "^/[^/]+/Role=production$",
    "/ams/Role=pilot",
    "/Engage/LBNE/Role=pilot",
)
#: The old check's "VOMS patch": any FQAN of these VOs counted as a production role.
VOMS_PATCH = ("/atlas/", "/osg/", "/cms/", "/ams/", "/Engage/LBNE/")


def has_pilot_role(req: LegacyRequest, voms_patch: bool = True) -> bool:
    """``_checkRole``: production or pilot role (any VO FQAN with the VOMS patch), or a production DN."""
    patterns = PRODUCTION_ATTRIBUTES + (VOMS_PATCH if voms_patch else ())
    for fqan in req.identity.fqans:
        if any(fqan.startswith(pattern) or re.search(pattern, fqan) for pattern in patterns):
            return True
    dn = req.dn
    if dn:
        for owner in req.engine.production_dns:
            if owner and re.search(owner, dn) is not None:
                return True
    return False


def check_pilot_permission(req: LegacyRequest) -> str | None:
    """``checkPilotPermission``: None when allowed, else the refusal text."""
    if req.dn is None:
        return MESSAGE_NO_DN
    if not has_pilot_role(req):
        return MESSAGE_PILOT_PERMISSION
    return None


def trf_base(req: LegacyRequest) -> str:
    """Base URL of the payload scripts in dispatched jobs."""
    return req.emulator.settings.trf_url or f"{req.base_url}/trf/user"


def _int_or_none(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _non_negative(value: Any) -> int:
    number = _int_or_none(value)
    return number if number is not None and number > 0 else 0


def _is_true(value: Any) -> bool:
    return value == "True" or value is True


# ----------------------------------------------------------------------------------------------
# jobs
# ----------------------------------------------------------------------------------------------
@functions.function()
def getJob(
    req: LegacyRequest,
    siteName,
    token=None,
    timeout=60,
    cpu=None,
    mem=None,
    diskSpace=None,
    prodSourceLabel=None,
    node=None,
    computingElement=None,
    AtlasRelease=None,
    prodUserID=None,
    getProxyKey=None,
    countryGroup=None,
    workingGroup=None,
    allowOtherCountry=None,
    taskID=None,
    nJobs=None,
    background=None,
    resourceType=None,
    harvester_id=None,
    worker_id=None,
    schedulerID=None,
    jobType=None,
    viaTopic=None,
) -> Response:
    """Dispatch (as ``pilot/acquire_jobs``): the highest-priority activated job of the queue moves to
    ``sent`` and is answered as one flat job dictionary with ``StatusCode`` 0 (the bulk form
    ``{"StatusCode": 0, "jobs": [...]}`` only when ``nJobs`` is given); 20 when there is none, 60
    without a production/pilot role (unless ``prodSourceLabel`` is ``user``)."""
    production = has_pilot_role(req)
    proxy_key = _is_true(getProxyKey) and has_pilot_role(req, voms_patch=False)
    if not production:
        prodUserID = req.dn
    if not production and prodSourceLabel not in ("user",):
        return Response(SC_ROLE, MESSAGE_ROLE if req.accept_json else None)
    timeout = int(timeout)
    n_jobs = None
    if nJobs is not None:
        n_jobs = _int_or_none(nJobs) or 1
    worker = _int_or_none(worker_id) if worker_id is not None else None
    try:
        result = req.engine.jobs.acquire(
            siteName,
            production=production,
            dn=req.dn or "",
            n_jobs=n_jobs,
            memory=_non_negative(mem),
            disk_space=_non_negative(diskSpace),
            prod_source_label=prodSourceLabel,
            node=node,
            computing_element=computingElement,
            prod_user_id=prodUserID,
            get_proxy_key=True if proxy_key else None,
            task_id=_int_or_none(taskID) if taskID is not None else None,
            background=_is_true(background),
            resource_type=resourceType,
            harvester_id=harvester_id,
            worker_id=worker if worker is not None else worker_id,
            scheduler_id=schedulerID,
            job_type=jobType,
        )
    except Failure as failure:
        if failure.message == "No jobs in PanDA":
            return Response(SC_NO_JOBS, "no jobs in PanDA" if req.accept_json else None)
        return Response(SC_FAILED, failure.message if req.accept_json else None)
    base = trf_base(req)
    if n_jobs is None:
        job = dict(result)
        job["transformation"] = resolve_transformation(job.get("transformation"), base)
        return Response(job.pop("StatusCode", SC_SUCCESS)).update(job)
    jobs = [dict(job, transformation=resolve_transformation(job.get("transformation"), base)) for job in result["jobs"]]
    return Response(SC_SUCCESS).append("jobs", jobs if req.accept_json else json.dumps(jobs))


#: updateJob parameters → (v1 name, conversion before update_params); None: passed as they are.
_UPDATE_FIELDS: dict[str, tuple[str, Any]] = {
    "node": ("node", None),
    "cpuConsumptionTime": ("cpu_consumption_time", _int_or_none),
    "cpuConsumptionUnit": ("cpu_consumption_unit", None),
    "schedulerID": ("scheduler_id", None),
    "pilotID": ("pilot_id", None),
    "siteName": ("site_name", None),
    "cpuConversionFactor": ("cpu_conversion_factor", None),
    "transExitCode": ("trans_exit_code", _int_or_none),
    "pilotErrorCode": ("pilot_error_code", _int_or_none),
    "pilotErrorDiag": ("pilot_error_diag", None),
    "exeErrorCode": ("exe_error_code", _int_or_none),
    "exeErrorDiag": ("exe_error_diag", None),
    "pilotTiming": ("pilot_timing", None),
    "startTime": ("start_time", None),
    "endTime": ("end_time", None),
    "nEvents": ("n_events", _int_or_none),
    "nInputFiles": ("n_input_files", _int_or_none),
    "batchID": ("batch_id", None),
    "jobMetrics": ("job_metrics", None),
    "jobSubStatus": ("job_sub_status", None),
    "coreCount": ("core_count", _int_or_none),
    "maxRSS": ("max_rss", _int_or_none),
    "maxVMEM": ("max_vmem", _int_or_none),
    "maxSWAP": ("max_swap", _int_or_none),
    "maxPSS": ("max_pss", _int_or_none),
    "avgRSS": ("avg_rss", None),
    "avgVMEM": ("avg_vmem", None),
    "avgSWAP": ("avg_swap", None),
    "avgPSS": ("avg_pss", None),
    "totRCHAR": ("tot_rchar", _int_or_none),
    "totWCHAR": ("tot_wchar", _int_or_none),
    "totRBYTES": ("tot_rbytes", _int_or_none),
    "totWBYTES": ("tot_wbytes", _int_or_none),
    "cpu_architecture_level": ("cpu_architecture_level", None),
}
_RATES = {"rateRCHAR": "rateRCHAR", "rateWCHAR": "rateWCHAR", "rateRBYTES": "rateRBYTES", "rateWBYTES": "rateWBYTES"}


def _legacy_update_params(values: dict[str, Any]) -> dict[str, Any]:
    """The JobSpec changes of an updateJob call: legacy names → v1 names → :func:`update_params`.

    ``startTime``/``endTime`` are kept only in the ``%Y-%m-%d %H:%M:%S`` form (pilot3 sends epoch
    floats, which the old server dropped: the job's times then come from the emulator clock);
    ``meanCoreCount`` is read as a float (it has no JobSpec column, like in the old code) and
    ``timestamp`` is accepted and ignored."""
    v1: dict[str, Any] = {}
    for legacy, (name, convert) in _UPDATE_FIELDS.items():
        value = values.get(legacy)
        if value in (None, ""):
            continue
        if convert is not None:
            value = convert(value)
            if value is None:
                continue
        elif legacy in ("startTime", "endTime") and not isinstance(value, str):
            continue
        v1[name] = value
    param = update_params(v1)
    for legacy, key in _RATES.items():
        value = values.get(legacy)
        if value not in (None, ""):
            try:
                param[key] = min(10**10 - 1, int(float(value)))
            except (TypeError, ValueError):
                pass
    return param


@functions.function()
def updateJob(
    req: LegacyRequest,
    jobId,
    state,
    token=None,
    transExitCode=None,
    pilotErrorCode=None,
    pilotErrorDiag=None,
    timestamp=None,
    timeout=60,
    xml="",
    node=None,
    workdir=None,
    cpuConsumptionTime=None,
    cpuConsumptionUnit=None,
    remainingSpace=None,
    schedulerID=None,
    pilotID=None,
    siteName=None,
    messageLevel=None,
    pilotLog="",
    metaData="",
    cpuConversionFactor=None,
    exeErrorCode=None,
    exeErrorDiag=None,
    pilotTiming=None,
    computingElement=None,
    startTime=None,
    endTime=None,
    nEvents=None,
    nInputFiles=None,
    batchID=None,
    attemptNr=None,
    jobMetrics=None,
    stdout="",
    jobSubStatus=None,
    coreCount=None,
    maxRSS=None,
    maxVMEM=None,
    maxSWAP=None,
    maxPSS=None,
    avgRSS=None,
    avgVMEM=None,
    avgSWAP=None,
    avgPSS=None,
    totRCHAR=None,
    totWCHAR=None,
    totRBYTES=None,
    totWBYTES=None,
    rateRCHAR=None,
    rateWCHAR=None,
    rateRBYTES=None,
    rateWBYTES=None,
    corruptedFiles=None,
    meanCoreCount=None,
    cpu_architecture_level=None,
) -> Response:
    """Heartbeat or final report (as ``pilot/update_job``): the status change with the guards of the
    job state machine (finished/failed are stored as holding until the adder), metrics, error
    fields, metadata, pilot log and the final ``xml`` file report; answers ``StatusCode`` 0 and
    the pilot ``command`` (``NULL``, ``tobekilled``, ``debug``, ...), 60 without a production/pilot
    role, a bare ``StatusCode=0`` for ``jobId=NULL`` or an invalid ``state``."""
    if not has_pilot_role(req):
        return Response(SC_ROLE, MESSAGE_ROLE if req.accept_json else None)
    if jobId == "NULL":
        return Response(SC_SUCCESS)
    if state not in VALID_JOB_STATES:
        return Response(SC_SUCCESS)
    values = dict(locals())
    param = _legacy_update_params(values)
    attempt = _int_or_none(attemptNr) if attemptNr is not None else None
    success, message, data = req.engine.jobs.update(
        int(jobId),
        state,
        attempt_nr=attempt,
        params=param,
        job_output_report=xml if isinstance(xml, str) else json.dumps(xml),
        pilot_log=pilotLog if isinstance(pilotLog, str) else str(pilotLog),
        meta_data=metaData if isinstance(metaData, str) else json.dumps(metaData),
        stdout=(stdout if isinstance(stdout, str) else str(stdout))[:2048],
    )
    if message == "Failed to add meta_data":
        return Response(SC_SUCCESS)  # the old dispatcher answered a bare success
    if not success or not isinstance(data, dict):
        return Response(SC_FAILED)
    response = Response(data.get("StatusCode", SC_SUCCESS))
    command = data.get("command")
    response.append("command", command if isinstance(command, str) and command else "NULL")
    return response


@functions.function()
def updateJobsInBulk(req: LegacyRequest, jobList, harvester_id=None) -> Raw:
    """``updateJob`` for each legacy job dict of the JSON list ``jobList`` (with ``jobId`` and
    ``state``), in order; answers ``[true, [<each updateJob answer>]]``, or ``[false, "<why>"]``
    when the list cannot be read or a dict does not fit updateJob (earlier updates stay)."""
    answers: Any = []
    ok = False
    try:
        job_list = json.loads(jobList)
        for job_dict in job_list:
            job_dict = dict(job_dict)
            job_id = job_dict.pop("jobId")
            state = job_dict.pop("state")
            if "metaData" in job_dict:
                job_dict["metaData"] = str(job_dict["metaData"])
            outcome = call_function(req, "updateJob", {"jobId": job_id, "state": state, **job_dict})
            answers.append(encoded_value(req, "updateJob", outcome))
        ok = True
    except Exception as exc:  # noqa: BLE001 - the old function caught everything
        answers = f"updateJobsInBulk {harvester_id} failed with {type(exc).__name__} {exc}"
    return Raw(json.dumps((ok, answers)))


@functions.function(reply="form")
def getStatus(req: LegacyRequest, ids, timeout=60) -> Response:
    """Status and attempt number of the space-separated PandaIDs (active and archived jobs;
    ``notfound`` and 0 otherwise), ``+``-joined, always URL-encoded. Changes nothing."""
    id_list = str(ids).split()
    found = req.engine.jobs.pilot_status(id_list)
    statuses = []
    attempts = []
    for item in found:
        if item["status"] in ("not found", "waiting"):  # peekJobs looked at neither waiting nor defined jobs
            statuses.append("notfound")
            attempts.append("0")
        else:
            statuses.append(str(item["status"]))
            attempts.append(str(item["attempt_number"]))
    return Response(SC_SUCCESS).append("status", "+".join(statuses)).append("attemptNr", "+".join(attempts))


@functions.function()
def setDebugMode(req: LegacyRequest, pandaID, modeOn) -> str:
    """Switch debug mode of a job (as ``job/set_debug_mode``); answers the plain text of the DB
    layer (``Succeeded``, ``Already set accordingly``, ``Permission denied...``)."""
    identity = req.identity
    if not identity.raw_dn:
        return f"ERROR: {MESSAGE_SSL}"
    job_id = _int_or_none(pandaID)
    if job_id is None:
        return f"PandaID={pandaID} not found in active DB"
    return req.engine.jobs.set_debug_mode(
        job_id, _is_true(modeOn), identity.dn, identity.production, identity.primary_working_group
    )


# ----------------------------------------------------------------------------------------------
# event service
# ----------------------------------------------------------------------------------------------
@functions.function()
def getEventRanges(
    req: LegacyRequest,
    pandaID,
    jobsetID,
    taskID=None,
    nRanges=10,
    timeout=60,
    scattered=None,
    segment_id=None,
) -> Response | str:
    """Reserve up to ``nRanges`` ready event ranges of the jobset for the job (as
    ``event/acquire_event_ranges``): ``eventRanges`` is the list (a JSON string when the client
    does not accept JSON); 30 when the ids are not numbers."""
    refusal = check_pilot_permission(req)
    if refusal is not None:
        return refusal
    try:
        job_id, jobset_id = int(pandaID), int(jobsetID)
        task_id = int(taskID) if taskID not in (None, "", "NULL", "None") else None
        n_ranges = int(nRanges)
        segment = int(segment_id) if segment_id is not None else None
    except (TypeError, ValueError):
        return Response(SC_FAILED)
    ranges = req.engine.events.acquire(job_id, jobset_id, task_id, n_ranges, _is_true(scattered), segment)
    return Response(SC_SUCCESS).append("eventRanges", ranges if req.accept_json else json.dumps(ranges))


@functions.function()
def updateEventRanges(req: LegacyRequest, eventRanges, timeout=120, version=0, pandaID=None) -> Response | str:
    """Report event ranges (as ``event/update_event_ranges``): ``Returns`` (True/False/None per
    range) and ``Command`` (pilot command per PandaID), both JSON strings for version 0."""
    refusal = check_pilot_permission(req)
    if refusal is not None:
        return refusal
    try:
        version = int(version)
    except (TypeError, ValueError):
        version = 0
    try:
        decoded = json.loads(eventRanges) if isinstance(eventRanges, str) else eventRanges
        returns, commands = req.engine.events.update(decoded, version)
    except (TypeError, ValueError):
        return Response(SC_FAILED, "ERROR : failed to convert eventRanges with json")
    if version == 0:
        return Response(SC_SUCCESS).append("Returns", json.dumps(returns)).append("Command", json.dumps(commands))
    return Response(SC_SUCCESS).append("Returns", returns).append("Command", commands)


@functions.function(reply="form")
def updateEventRange(
    req: LegacyRequest,
    eventRangeID,
    eventStatus,
    coreCount=None,
    cpuConsumptionTime=None,
    objstoreID=None,
    timeout=60,
    pandaID=None,
) -> Response | str:
    """Report one event range (as ``event/update_single_event_range``): ``Command`` (JSON string of
    the pilot commands) when it was stored, 30 otherwise (also for running/transferring, which
    are not stored). Always URL-encoded."""
    refusal = check_pilot_permission(req)
    if refusal is not None:
        return refusal
    stored, command = req.engine.events.update_single(
        eventRangeID, eventStatus, coreCount, cpuConsumptionTime, objstoreID
    )
    if stored is not True:
        return Response(SC_FAILED)
    return Response(SC_SUCCESS).append("Command", command)


@functions.function(reply="json")
def checkEventsAvailability(req: LegacyRequest, pandaID, jobsetID, taskID, timeout=60) -> Response:
    """Number of ready event ranges of the jobset (as ``event/get_available_event_range_count``),
    always JSON. Changes nothing."""
    try:
        count = req.engine.events.available_count(int(pandaID), int(jobsetID), int(taskID))
    except (TypeError, ValueError):
        return Response(SC_FAILED)
    return Response(SC_SUCCESS).append("nEventRanges", count)


# ----------------------------------------------------------------------------------------------
# workers and resources
# ----------------------------------------------------------------------------------------------
@functions.function()
def updateWorkerPilotStatus(
    req: LegacyRequest,
    site,
    workerID,
    harvesterID,
    status,
    timeout=60,
    node_id=None,
) -> Response | str:
    """The pilot's view of its Harvester worker (as ``pilot/update_worker_status``): pilotStatus,
    start/end time and node of the worker; ``StatusCode`` 0, or 30 when the update fails; a plain
    refusal text for a wrong role or a status other than started/finished."""
    refusal = check_pilot_permission(req)
    if refusal is not None:
        return refusal
    if status not in VALID_WORKER_STATES:
        return f"Invalid worker state. The worker state has to be in {VALID_WORKER_STATES}"
    try:
        req.engine.harvester.update_worker_pilot_status(workerID, harvesterID, status, node_id)
    except Failure:
        return Response(SC_FAILED)
    return Response(SC_SUCCESS)


@functions.function()
def getResourceTypes(req: LegacyRequest, timeout=30) -> Response:
    """The resource types with their core and memory bounds (as ``metaconfig/get_resource_types``):
    ``Returns`` 0 and ``ResourceTypes``. Changes nothing."""
    return Response(SC_SUCCESS).append("Returns", 0).append("ResourceTypes", req.engine.world.resource_type_list())


# ----------------------------------------------------------------------------------------------
# credentials
# ----------------------------------------------------------------------------------------------
def _proxy_answer(req: LegacyRequest, target: str | None, role: Any, token_key: Any, tokenized: bool) -> Response:
    """``JobDispatcher.get_proxy``: permission (70), token key (50), not found (90) or the secret."""
    what = "access token" if tokenized else "proxy"
    if req.dn is None:
        return Response(SC_PERMISSION, "Cannot extract DN from proxy. not HTTPS?")
    compact = req.identity.compact_name
    if not compact or not req.engine.world.has_permission(compact, "proxy"):
        return Response(
            SC_PERMISSION,
            f"failed since '{compact}' not in the authorized user list who have 'p' in "
            f"{SCHEMA_META}.USERS.GRIDPREF to get {what}",
        )
    credentials = req.engine.credentials
    try:
        if tokenized:
            found = credentials.get_access_token(compact, str(target), token_key)
        else:
            found = credentials.get_proxy(req.identity.dn, compact, role, target)
    except Failure as failure:
        if failure.message.startswith("failed since token key is invalid"):
            return Response(SC_INVALID, failure.message)
        response = Response(SC_SUCCESS, "")
        name = failure.message.split(" not found for ", 1)[-1]
        return response.append("errorDialog", f"{'token' if tokenized else 'proxy'} not found for {name}").append(
            "StatusCode", SC_PROXY_ERROR
        )
    return Response(SC_SUCCESS, "").append("userProxy", found["user_proxy"])


@functions.function(reply="json")
def getProxy(req: LegacyRequest, role=None, dn=None) -> Response:
    """The cached proxy of ``dn`` (default: the caller) for ``role`` (as ``creds/get_proxy``), for
    identities with the proxy permission: ``userProxy``; 70/90 otherwise. Always JSON."""
    return _proxy_answer(req, dn, role or None, None, tokenized=False)


@functions.function(reply="json")
def get_access_token(req: LegacyRequest, client_name, token_key=None) -> Response:
    """The cached access token of a token client (as ``creds/get_access_token``): ``userProxy``;
    70/50/90 otherwise. Always JSON (the pilot reads it with ``ast.literal_eval``)."""
    return _proxy_answer(req, client_name, None, token_key, tokenized=True)


@functions.function()
def getKeyPair(req: LegacyRequest, publicKeyName, privateKeyName) -> Response:
    """A named key pair (as ``creds/get_key_pair``), for identities with the key_pair permission:
    ``publicKey``/``privateKey``; 70 (permission) or 80 (missing key) otherwise."""
    prefix = f"getKeyPair {publicKeyName}/{privateKeyName} json={req.accept_json}: "
    if req.dn is None:
        return Response(SC_PERMISSION, "Cannot extract DN from proxy. not HTTPS?")
    compact = req.identity.compact_name
    if not compact or not req.engine.world.has_permission(compact, "key_pair"):
        return Response(
            SC_PERMISSION, f"{prefix}failed since '{compact}' not authorized with 'k' in {SCHEMA_META}.USERS.GRIDPREF"
        )
    try:
        pair = req.engine.credentials.get_key_pair(compact, publicKeyName, privateKeyName, req.host)
    except Failure as failure:
        missing = failure.message.split(" since ", 1)[-1]
        return Response(SC_MISSING_KEY, f"{prefix}failed for '{compact}' since {missing}")
    return Response(SC_SUCCESS).append("publicKey", pair["public_key"]).append("privateKey", pair["private_key"])


@functions.function()
def get_token_key(req: LegacyRequest, client_name) -> Response:
    """The latest token key of a token client (as ``creds/get_token_key``), for identities with the
    token_key permission: ``tokenKey``; 70/80 otherwise."""
    if req.dn is None:
        return Response(SC_PERMISSION, "failed since DN cannot be extracted. non-HTTPS?")
    compact = req.identity.compact_name
    if not compact or not req.engine.world.has_permission(compact, "token_key"):
        return Response(
            SC_PERMISSION, f"denied since '{compact}' not authorized with 't' in {SCHEMA_META}.USERS.GRIDPREF"
        )
    try:
        found = req.engine.credentials.get_token_key(compact, client_name)
    except Failure:
        return Response(SC_MISSING_KEY, f"token key is missing for '{client_name}")
    return Response(SC_SUCCESS).append("tokenKey", found["tokenKey"])
