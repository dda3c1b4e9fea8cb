"""``/api/v1/job/*``: job status and descriptions, kill, reassign, pilot commands, debug mode, submission."""

from __future__ import annotations

from typing import List

from ..engine.outcome import Failure, Reply
from .registry import ApiModule
from .request import ApiRequest

module = ApiModule("job")


@module.endpoint("GET")
def get_status(req: ApiRequest, job_ids: List[int], timeout: int = 60) -> list:
    """Status and pending pilot command per job (active table, or archive within the last hour;
    ``{"status": "unknown", "command": "tobekilled"}`` otherwise), in request order. Changes nothing."""
    return req.engine.jobs.status_and_command(job_ids)


@module.endpoint(None)
def get_description(req: ApiRequest, job_ids: List[int]) -> list:
    """Every JobSpec attribute plus ``Files`` of each job (None when unknown), at most 5500 ids.
    Changes nothing."""
    return req.engine.jobs.describe(job_ids)


@module.endpoint(None)
def get_description_incl_archive(req: ApiRequest, job_ids: List[int]) -> list:
    """Like get_description, also looking into the archive (final jobs). Changes nothing."""
    return req.engine.jobs.describe(job_ids)


@module.endpoint("GET", secure=False, raw=True)
def generate_offline_execution_script(req: ApiRequest, job_id: int, days: int = None) -> str:
    """A bash script that re-runs the job interactively (a bare string, not an envelope); an
    ``ERROR ...`` message in an envelope when the job is not found. Changes nothing."""
    script = req.engine.jobs.offline_script(job_id, days)
    if script.startswith("ERROR"):
        raise Failure(script)
    return script


@module.endpoint("GET")
def get_metadata_for_analysis_jobs(req: ApiRequest, task_id: int) -> Reply:
    """Metadata (JSON) of the task's finished user jobs, by PandaID. Changes nothing."""
    metadata = req.engine.jobs.user_metadata(task_id)
    if not metadata:
        return Reply({}, message="No metadata found")
    return Reply(metadata)


@module.endpoint("POST")
def kill(
    req: ApiRequest,
    job_ids: List[int],
    code: int = None,
    use_email_as_id: bool = False,
    kill_options: List[str] = [],  # noqa: B006 - PanDA's declared default
) -> list:
    """Kill jobs: queued ones are cancelled (closed for codes 2/4/10/51/55/60) at once, running ones
    flagged ``tobekilled`` for their pilot unless the kill is forced; one boolean per job (owner,
    production role or working-group production role required)."""
    identity = req.identity
    user = identity.dn
    if use_email_as_id and identity.email:
        user = identity.email
    return req.engine.jobs.kill(job_ids, user, code, identity.production, identity.working_groups, kill_options)


@module.endpoint("POST")
def reassign(req: ApiRequest, job_ids: List[int]) -> None:
    """Reset jobs still waiting or defined and send them through the setupper again (activated
    after the job_activation delay); other jobs are ignored. Always succeeds."""
    req.engine.jobs.reassign(job_ids)


@module.endpoint("POST", production=True)
def set_command(req: ApiRequest, job_id: int, command: str) -> Reply:
    """Set ``commandToPilot`` of an active job (delivered in its next update_job reply)."""
    success, message = req.engine.jobs.set_command(job_id, command)
    if not success:
        raise Failure(message)
    return Reply(None, message=message)


@module.endpoint("POST", production=True)
def set_debug_mode(req: ApiRequest, job_id: int, mode: bool) -> Reply:
    """Switch debug mode (``debug`` in specialHandling) on or off; the pilot then gets ``debug`` in
    its command. ``success`` is true exactly when the message is ``Succeeded``."""
    identity = req.identity
    message = req.engine.jobs.set_debug_mode(
        job_id, mode, identity.dn, identity.production, identity.primary_working_group
    )
    if message != "Succeeded":
        raise Failure(message)
    return Reply(None, message=message)


@module.endpoint("POST")
def submit(req: ApiRequest, jobs: str) -> list:
    """Store serialized JobSpecs (as panda-client's submitJobs sends them) as defined jobs, activated
    after the job_activation delay; returns ``[PandaID, jobDefinitionID, {jobsetID}|jobName]`` per job."""
    return req.engine.jobs.submit(jobs, req.identity.dn, req.identity.production)
