"""Spoken requests with a person's own practices, read from their practices folder."""

from __future__ import annotations

from companion.listen.requests import own_practices, understand_request
from companion.understand.intents import Request

WALK = """
name = "morning-walk"
title = "A morning walk"
description = "Slow steps and slow breaths."
spoken_names = ["morning walk", "walk"]

[[steps]]
say = "Let's walk slowly."
"""


def test_a_persons_own_practice_is_understood_beside_the_built_ins(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_HOME", str(tmp_path))
    assert understand_request("walk please") == Request("unknown")
    (tmp_path / "practices").mkdir()
    (tmp_path / "practices" / "morning-walk.toml").write_text(WALK, encoding="utf-8")
    (tmp_path / "practices" / "broken.toml").write_text("name = ", encoding="utf-8")  # left out, not fatal
    assert own_practices() == {"morning-walk": ("morning walk", "walk")}
    assert understand_request("Companion, walk please") == Request("practice", "morning-walk")
    assert understand_request("Juniper, the morning walk for 5 minutes", name="juniper") == Request("practice", "morning-walk", 5)
    assert understand_request("box breathing") == Request("practice", "box-breathing")
