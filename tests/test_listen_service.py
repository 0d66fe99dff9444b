"""The login service for `companion listen`: the unit's text, and writing and removing it."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys

import pytest

from companion.errors import CompanionError
from companion.listen.service import UNIT_NAME, install, listen_command, uninstall, unit_path, unit_text


def exec_start(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("ExecStart="))


def test_the_unit_runs_the_listener_with_this_python():
    assert listen_command() == [sys.executable, "-m", "companion", "listen"]
    text = unit_text(listen_command())
    assert exec_start(text) == f"ExecStart={sys.executable} -m companion listen"
    assert "[Install]\nWantedBy=default.target" in text and "Restart=on-failure" in text


def test_words_that_systemd_would_change_are_quoted():
    text = unit_text(["/opt/my tools/bin/python", "-m", "companion", "listen"], {"COMPANION_HOME": '/home/a "b"/100%'})
    assert exec_start(text) == 'ExecStart="/opt/my tools/bin/python" -m companion listen'
    assert 'Environment="COMPANION_HOME=/home/a \\"b\\"/100%%"' in text.splitlines()
    assert exec_start(unit_text(["/opt/$HOME/python"])) == 'ExecStart="/opt/$$HOME/python"'
    with pytest.raises(CompanionError):
        unit_text(["/opt/a\nb/python"])
    with pytest.raises(CompanionError):
        unit_text([])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_accepts_the_unit(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_HOME", str(tmp_path / "my data"))
    path = install(tmp_path / UNIT_NAME)
    done = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_install_writes_a_private_unit_where_systemd_looks_and_uninstall_removes_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("COMPANION_HOME", str(tmp_path / "data"))
    assert unit_path() == tmp_path / "config" / "systemd" / "user" / UNIT_NAME
    path = install()
    assert path == unit_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text(encoding="utf-8")
    assert exec_start(text) == f"ExecStart={sys.executable} -m companion listen"
    assert f"Environment=COMPANION_HOME={tmp_path / 'data'}" in text.splitlines()

    path.write_text("an older unit", encoding="utf-8")
    assert install() == path and path.read_text(encoding="utf-8") == text  # replaced whole
    assert sorted(p.name for p in path.parent.iterdir()) == [UNIT_NAME]  # nothing left beside it

    assert uninstall() is True
    assert not path.exists()
    assert uninstall() is False


def test_without_xdg_config_home_the_unit_goes_under_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert unit_path() == tmp_path / ".config" / "systemd" / "user" / UNIT_NAME
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/path")  # not absolute: ignored, as the spec says
    assert unit_path() == tmp_path / ".config" / "systemd" / "user" / UNIT_NAME


def test_a_folder_that_cannot_be_written_is_one_clear_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(CompanionError) as raised:
        install(blocker / "systemd" / UNIT_NAME)
    assert "cannot write the service file" in raised.value.message and raised.value.hint
