"""The harvester, file-server and credential services used directly, without HTTP or Flask."""

from __future__ import annotations

import io

import pytest

from pandamock.engine import Engine
from pandamock.engine.outcome import Failure, Reply
from pandamock.scenario import load


@pytest.fixture
def engine(tmp_path):
    engine = Engine(data_dir=str(tmp_path / "data"), max_upload_mb=1)
    engine.load_scenario(load("default"))
    yield engine
    engine.files.close()


def test_services_are_registered(engine):
    assert engine.services[1:] == [
        engine.generator,
        engine.jobs,
        engine.events,
        engine.statistics,
        engine.harvester,
        engine.files,
        engine.credentials,
        engine.tasks,
        engine.carousel,
        engine.workflows,
        engine.idds,
        engine.async_requests,
        engine.payloads,
    ]
    assert engine.files.data_dir.name == "data" and engine.files.cache_dir.is_dir()


def test_a_refused_operation_changes_nothing(engine):
    engine.harvester.update_workers("h1", [{"workerID": 1, "status": "running"}])
    before = engine.store.capture()
    with pytest.raises(Failure, match="database error in the PanDA server"):
        engine.harvester.update_workers("h1", [{"workerID": 1, "status": "finished"}, {"workerID": "x"}])
    assert engine.store.capture() == before


def test_files_through_the_engine(engine, tmp_path):
    assert engine.files.upload_cache_file("alice", "/x/jobO.e.tar.gz", io.BytesIO(b"abc"), 3, "host") is None
    path, record = engine.files.cache_file("jobO.e.tar.gz")
    assert path.read_bytes() == b"abc" and record["owner"] == "alice"
    with pytest.raises(Failure, match="'..' path components are not allowed"):
        engine.files.upload_cache_file("alice", "../jobO.e.tar.gz", io.BytesIO(b"abc"), 3, "host")
    with pytest.raises(Failure, match="Exceeded size limit 1 MB > 1 MB"):
        engine.files.upload_cache_file("alice", "jobO.big", io.BytesIO(b"x" * (1024 * 1024 + 1)), 10, "host")
    assert engine.files.cache_file("jobO.big") is None
    assert list(engine.files.staging_dir.iterdir()) == []
    with pytest.raises(Failure, match="^NOTFOUND$"):  # a 3-byte file has no gzip footer, so no checksum
        engine.files.validate_cache_file("alice", "", 3, None)


def test_credentials_through_the_engine(engine):
    assert engine.credentials.set_user_secret("alice", "k", "v") == Reply(None, message="OK")
    assert engine.credentials.get_user_secrets("alice", None) == '{"k": "v"}'
    assert engine.credentials.get_user_secrets("bob", None) == "{}"
    assert engine.credentials.get_token_key("atlpilo1", "panda_harvester")["tokenKey"]
