"""The run file of `checkin up`: owner-only (the Valkey URL in it holds the password), written whole, and
the embedded servers' states read back only while that `checkin up` runs."""

from __future__ import annotations

import stat
from pathlib import Path

import orjson

from checkin.config import Config
from checkin.runtime import embedded_states, run_file, write_run_file

SERVERS = {"valkey": {"state": "backing_off", "restarts": 3, "down_since": 1.0, "last_error": "port in use"}}


def test_the_run_file_is_owner_only_and_gives_the_servers_states(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path)
    run_file(config).write_text("{}")
    run_file(config).chmod(0o644)  # left by an older version: rewritten owner-only
    write_run_file(config, "postgresql://x", "redis://:pw@127.0.0.1:1/0", SERVERS)
    assert stat.S_IMODE(run_file(config).stat().st_mode) == 0o600
    assert embedded_states(config) == SERVERS
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temporary file left behind


def test_no_states_without_a_running_checkin_up(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path)
    assert embedded_states(config) == {}
    write_run_file(config, "postgresql://x", "redis://h:1/0", SERVERS)
    info = orjson.loads(run_file(config).read_bytes())
    for pid in (0, 2**22 + 1):  # 0 would ask about our own process group; the other is past pid_max
        run_file(config).write_bytes(orjson.dumps({**info, "pid": pid}))
        assert embedded_states(config) == {}, pid
