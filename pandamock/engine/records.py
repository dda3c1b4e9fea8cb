"""The shapes of the records the engine stores, with PanDA's own key names.

Attribute lists follow PanDA's spec classes (``JobSpec``, ``FileSpec``, ``JediTaskSpec``,
``JediDatasetSpec``, ``JediFileSpec``, ``JEDI_Events``). The ``new_*`` factories return a
complete record: every attribute present (``None`` where PanDA stores NULL, ``0`` for the
attributes PanDA zero-fills), then the given values. Records are plain dicts; see
:mod:`pandamock.engine.store` for the copy-on-write rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

JOB_ATTRIBUTES: tuple[str, ...] = tuple(
    """
    PandaID jobDefinitionID schedulerID pilotID creationTime creationHost modificationTime
    modificationHost AtlasRelease transformation homepackage prodSeriesLabel prodSourceLabel
    prodUserID assignedPriority currentPriority attemptNr maxAttempt jobStatus jobName maxCpuCount
    maxCpuUnit maxDiskCount maxDiskUnit ipConnectivity minRamCount minRamUnit startTime endTime
    cpuConsumptionTime cpuConsumptionUnit commandToPilot transExitCode pilotErrorCode pilotErrorDiag
    exeErrorCode exeErrorDiag supErrorCode supErrorDiag ddmErrorCode ddmErrorDiag brokerageErrorCode
    brokerageErrorDiag jobDispatcherErrorCode jobDispatcherErrorDiag taskBufferErrorCode
    taskBufferErrorDiag computingSite computingElement jobParameters metadata prodDBlock
    dispatchDBlock destinationDBlock destinationSE nEvents grid cloud cpuConversion sourceSite
    destinationSite transferType taskID cmtConfig stateChangeTime prodDBUpdateTime lockedby
    relocationFlag jobExecutionID VO pilotTiming workingGroup processingType prodUserName
    nInputFiles countryGroup batchID parentID specialHandling jobsetID coreCount nInputDataFiles
    inputFileType inputFileProject inputFileBytes nOutputDataFiles outputFileBytes jobMetrics
    workQueue_ID jediTaskID jobSubStatus actualCoreCount reqID maxRSS maxVMEM maxSWAP maxPSS avgRSS
    avgVMEM avgSWAP avgPSS maxWalltime nucleus eventService failedAttempt hs06sec gshare hs06
    totRCHAR totWCHAR totRBYTES totWBYTES rateRCHAR rateWCHAR rateRBYTES rateWBYTES resource_type
    diskIO memory_leak memory_leak_x2 container_name job_label gco2_regional gco2_global
    cpu_architecture_level outputFileType
    """.split()
)

JOB_ZERO_ATTRIBUTES: frozenset[str] = frozenset(
    """
    assignedPriority currentPriority attemptNr maxAttempt maxCpuCount maxDiskCount minRamCount
    cpuConsumptionTime pilotErrorCode exeErrorCode supErrorCode ddmErrorCode brokerageErrorCode
    jobDispatcherErrorCode taskBufferErrorCode nEvents relocationFlag jobExecutionID
    nOutputDataFiles outputFileBytes
    """.split()
)

FILE_ATTRIBUTES: tuple[str, ...] = tuple(
    """
    row_ID PandaID GUID lfn type dataset status prodDBlock prodDBlockToken dispatchDBlock
    dispatchDBlockToken destinationDBlock destinationDBlockToken destinationSE fsize md5sum checksum
    scope jediTaskID datasetID fileID attemptNr
    """.split()
)

TASK_ATTRIBUTES: tuple[str, ...] = tuple(
    """
    jediTaskID taskName status userName creationDate modificationTime startTime endTime frozenTime
    prodSourceLabel workingGroup vo coreCount taskType processingType taskPriority currentPriority
    architecture transUses transHome transPath lockedBy lockedTime termCondition splitRule walltime
    walltimeUnit outDiskCount outDiskUnit workDiskCount workDiskUnit ramCount ramUnit ioIntensity
    ioIntensityUnit workQueue_ID progress failureRate errorDialog reqID oldStatus cloud site
    countryGroup parent_tid eventService ticketID ticketSystemType stateChangeTime superStatus
    campaign mergeRamCount mergeRamUnit mergeWalltime mergeWalltimeUnit throttledTime numThrottled
    mergeCoreCount goal assessmentTime cpuTime cpuTimeUnit cpuEfficiency baseWalltime nucleus
    baseRamCount ttcRequested ttcPredicted ttcPredictionDate rescueTime requestType gshare
    resource_type useJumbo diskIO diskIOUnit memory_leak_core memory_leak_x2 attemptNr
    container_name framework activatedTime queuedTime actionTime
    """.split()
)

DATASET_ATTRIBUTES: tuple[str, ...] = tuple(
    """
    jediTaskID datasetID datasetName containerName type creationTime modificationTime vo cloud site
    masterID provenanceID status state stateCheckTime stateCheckExpiration frozenTime nFiles
    nFilesToBeUsed nFilesUsed nFilesFinished nFilesFailed nFilesOnHold nEvents nEventsToBeUsed
    nEventsUsed lockedBy lockedTime attributes streamName storageToken destination templateID
    nFilesWaiting nFilesMissing
    """.split()
)

DATASET_FILE_ATTRIBUTES: tuple[str, ...] = tuple(
    """
    jediTaskID datasetID fileID creationDate lastAttemptTime lfn GUID type status fsize checksum
    scope attemptNr maxAttempt nEvents keepTrack startEvent endEvent firstEvent boundaryID PandaID
    failedAttempt lumiBlockNr outPandaID maxFailure ramCount is_waiting jobsetID proc_status
    """.split()
)

#: JEDI_Events columns, plus ``eventRangeID`` (the record key) and the input file's
#: ``LFN``/``GUID``/``scope`` that event dispatch hands out with each range.
EVENT_RANGE_ATTRIBUTES: tuple[str, ...] = tuple(
    """
    eventRangeID jediTaskID PandaID fileID job_processID attemptNr status def_min_eventID
    def_max_eventID processed_upto_eventID datasetID jobsetID objstore_ID error_code error_diag
    zipRow_ID path_convention is_jumbo event_offset LFN GUID scope
    """.split()
)


_TEMPLATES: dict[tuple, dict] = {}  # (attributes, zero) -> the all-defaults record, never mutated (copied)


def _complete(attributes: tuple[str, ...], values: Mapping[str, Any], zero: frozenset[str] = frozenset()) -> dict:
    template = _TEMPLATES.get((attributes, zero))
    if template is None:
        template = _TEMPLATES[(attributes, zero)] = {name: (0 if name in zero else None) for name in attributes}
    record = template.copy()
    record.update(values)
    return record


def new_job(values: Mapping[str, Any]) -> dict:
    """A job record (JobSpec attributes + ``Files``: a list of FileSpec dicts)."""
    record = _complete(JOB_ATTRIBUTES, values, JOB_ZERO_ATTRIBUTES)
    record.setdefault("Files", [])
    return record


def new_file(values: Mapping[str, Any]) -> dict:
    """A job file record (FileSpec attributes), stored inside its job's ``Files``."""
    return _complete(FILE_ATTRIBUTES, values, frozenset(("fsize",)))


def new_task(values: Mapping[str, Any]) -> dict:
    """A JEDI task record (JediTaskSpec attributes)."""
    return _complete(TASK_ATTRIBUTES, values)


def new_dataset(values: Mapping[str, Any]) -> dict:
    """A JEDI dataset record (JediDatasetSpec attributes)."""
    return _complete(DATASET_ATTRIBUTES, values)


def new_dataset_file(values: Mapping[str, Any]) -> dict:
    """A JEDI dataset content record (JediFileSpec attributes)."""
    return _complete(DATASET_FILE_ATTRIBUTES, values)


def new_event_range(values: Mapping[str, Any]) -> dict:
    """An event range record; ``eventRangeID`` is
    ``<jediTaskID>-<PandaID>-<fileID>-<job_processID>-<attemptNr>`` (see :func:`event_range_id`)."""
    record = _complete(EVENT_RANGE_ATTRIBUTES, values)
    if record["eventRangeID"] is None:
        record["eventRangeID"] = event_range_id(
            record["jediTaskID"], record["PandaID"], record["fileID"], record["job_processID"], record["attemptNr"]
        )
    return record


def event_range_id(jedi_task_id: int, panda_id: int, file_id: int, job_process_id: int, attempt_nr: int) -> str:
    return f"{jedi_task_id}-{panda_id}-{file_id}-{job_process_id}-{attempt_nr}"
