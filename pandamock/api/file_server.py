"""``/api/v1/file_server/*``: the user cache (sandboxes), JEDI logs, HPO checkpoints and spooled requests.

Engine: :mod:`pandamock.engine.files`. Files are stored under the emulator's data directory; the
plain ``GET /cache/<name>`` download is served by the app (``pandamock/app.py``).
"""

from __future__ import annotations

from typing import List

from werkzeug.datastructures import FileStorage

from ..engine.outcome import Reply
from .registry import ApiModule
from .request import ApiRequest

module = ApiModule("file_server")


def _content_length(req: ApiRequest) -> int:
    """The request's Content-Length (0 when missing or unreadable), as the real server reads it."""
    try:
        return int(req.environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


@module.endpoint("POST", production=True)
def upload_jedi_log(req: ApiRequest, file: FileStorage) -> str:
    """Write (overwrite) ``jedilog/<name>`` in ``cache_files``; answers its URL."""
    return req.engine.files.upload_jedi_log(file.filename, file.stream, _content_length(req), req.base_url)


@module.endpoint("POST", production=True)
def update_jedi_log(req: ApiRequest, file: FileStorage) -> None:
    """Append the zlib-compressed content to the log ``download_jedi_log`` reads (``cache_files``)."""
    return req.engine.files.update_jedi_log(file.filename, file.stream, _content_length(req))


@module.endpoint("GET", raw=True)
def download_jedi_log(req: ApiRequest, log_name: str, offset: int = 0) -> str:
    """A bare string: ``" "`` + the log's content from ``offset``. Changes nothing."""
    return req.engine.files.download_jedi_log(log_name, offset)


@module.endpoint("POST")
def upload_cache_file(req: ApiRequest, file: FileStorage) -> Reply | None:
    """Store a sandbox under its base name (``cache_files``) and register it for reuse (``sandbox_files``)."""
    return req.engine.files.upload_cache_file(
        req.identity.compact_name, file.filename, file.stream, _content_length(req), req.host
    )


@module.endpoint("POST")
def touch_cache_file(req: ApiRequest, file_name: str) -> None:
    """Refresh the modification time of a cache file (``cache_files``) so it does not expire."""
    return req.engine.files.touch_cache_file(file_name)


@module.endpoint("POST")
def delete_cache_file(req: ApiRequest, file_name: str) -> None:
    """A placeholder, as in the real server: changes nothing and succeeds."""
    return req.engine.files.delete_cache_file(file_name)


@module.endpoint("POST", production=True)
def register_cache_file(req: ApiRequest, user_name: str, file_name: str, file_size: int, checksum: str) -> Reply:
    """Record (owner, host, name, size, checksum) in the sandbox registry (``sandbox_files``)."""
    return req.engine.files.register_cache_file(user_name, file_name, file_size, checksum, req.host)


@module.endpoint("POST")
def validate_cache_file(req: ApiRequest, file_size: int, checksum: int | str) -> Reply:
    """``FOUND:<host>:<name>`` when the caller registered a cached file of this size and checksum
    (``sandbox_files``); ``NOTFOUND`` otherwise. Changes nothing."""
    return req.engine.files.validate_cache_file(req.identity.compact_name, req.identity.dn, file_size, checksum)


@module.endpoint("POST")
def upload_hpo_checkpoint(req: ApiRequest, file: FileStorage) -> Reply:
    """Store ``hpo_cp_<task>_<sub>`` (``cache_files``) from an upload named ``<task>_<sub>``."""
    return req.engine.files.upload_hpo_checkpoint(
        req.identity.compact_name, file.filename, file.stream, _content_length(req)
    )


@module.endpoint("POST")
def delete_hpo_checkpoint(req: ApiRequest, task_id: str, sub_id: str) -> None:
    """Delete ``hpo_cp_<task>_<sub>`` from ``cache_files``."""
    return req.engine.files.delete_hpo_checkpoint(task_id, sub_id)


@module.endpoint("POST", task_owner=True)
def upload_file_recovery_request(
    req: ApiRequest,
    task_id: int = None,
    dry_run: bool = None,
    dataset: str = None,
    files: List[str] = None,
    no_child_retry: bool = True,
    resurrect_datasets: bool = False,
    force: bool = False,
    reproduce_parent: bool = False,
    reproduce_upto_nth_gen: int = 0,
) -> Reply:
    """Record a lost-file recovery request (``file_server_requests``) and its empty log (``cache_files``);
    answers the log's URL."""
    identity = req.identity
    return req.engine.files.file_recovery_request(
        identity.raw_dn,
        identity.compact_name,
        identity.production,
        req.base_url,
        task_id,
        dry_run,
        dataset,
        files,
        no_child_retry,
        resurrect_datasets,
        force,
        reproduce_parent,
        reproduce_upto_nth_gen,
    )


@module.endpoint("POST")
def upload_workflow_request(req: ApiRequest, data: str, dry_run: bool = False, sync: bool = False) -> Reply:
    """Record a workflow request (``file_server_requests``); with ``sync``/``dry_run`` it is checked (and
    submitted) now and the processor's result is answered."""
    return req.engine.files.workflow_request(req.identity.raw_dn, req.identity.compact_name, data, dry_run, sync)


@module.endpoint("POST")
def upload_event_picking_request(
    req: ApiRequest,
    run_event_list: str = "",
    data_type: str = "",
    stream_name: str = "",
    dataset_name: str = "",
    ami_tag: str = "",
    user_dataset_name: str = "",
    locked_by: str = "",
    parameters: str = "",
    input_file_list: str = "",
    n_sites: str = "",
    user_task_name: str = "",
    ei_api: str = "",
    include_guids: bool = False,
) -> None:
    """Record an event-picking request (run/event list and options) in ``file_server_requests``."""
    return req.engine.files.event_picking_request(
        req.identity.raw_dn,
        req.identity.compact_name,
        _content_length(req),
        run_event_list=run_event_list,
        data_type=data_type,
        stream_name=stream_name,
        dataset_name=dataset_name,
        ami_tag=ami_tag,
        user_dataset_name=user_dataset_name,
        locked_by=locked_by,
        parameters=parameters,
        input_file_list=input_file_list,
        n_sites=n_sites,
        user_task_name=user_task_name,
        ei_api=ei_api,
        include_guids=include_guids,
    )
