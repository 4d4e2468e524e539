"""File subscribers stay inside the lake unless absolute paths are explicitly allowed (#16 item 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.cli import main
from pipeline.errors import InputError
from pipeline.lake import Lake
from pipeline.notify import publish
from pipeline.notify.topics import TOPICS_PATH, TopicStore


@pytest.mark.parametrize("endpoint", ["../../x.jsonl", "../x.jsonl", "a/../../x.jsonl", "..", "~/x.jsonl"])
def test_relative_paths_that_leave_the_lake_are_refused(lake: Lake, endpoint: str) -> None:
    with pytest.raises(InputError, match="leaves the lake|absolute"):
        TopicStore(lake).subscribe("t", "file", endpoint)


def test_absolute_path_needs_the_setting(lake: Lake, tmp_path: Path) -> None:
    target = tmp_path / "outside.jsonl"
    with pytest.raises(InputError, match="notify.allow_absolute_paths"):
        TopicStore(lake).subscribe("t", "file", str(target))
    store = TopicStore(lake)
    store.subscribe("t", "file", str(target), raw=True, allow_absolute_paths=True)
    store.save()
    assert publish(lake, "t", None, "hello").delivered == 1
    assert target.read_text() == "hello\n"


def test_inside_paths_are_normalised_and_delivered(lake: Lake) -> None:
    store = TopicStore(lake)
    sub = store.subscribe("t", "file", "notify/./a/../oncall.jsonl", raw=True)
    store.save()
    assert sub.endpoint == "notify/oncall.jsonl"
    assert publish(lake, "t", None, "x").delivered == 1
    assert Path(lake.path("notify/oncall.jsonl")).read_text() == "x\n"


def test_a_hand_edited_store_cannot_escape_at_delivery(lake: Lake, tmp_path: Path) -> None:
    store = TopicStore(lake)
    store.subscribe("t", "file", "ok.jsonl", raw=True)
    store.save()
    data = lake.read_json(TOPICS_PATH)
    data[0]["subscriptions"][0]["endpoint"] = "../../escaped.jsonl"
    lake.write_json(TOPICS_PATH, data)
    r = publish(lake, "t", None, "x")
    assert r.delivered == 0 and r.dead == 1 and "leaves the lake" in r.errors[0]
    assert not (Path(lake.root).parent.parent / "escaped.jsonl").exists()


def test_cli_subscribe_reads_the_setting(lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["--lake", lake.root]
    target = str(tmp_path / "abs.jsonl")
    assert main(base + ["topics", "subscribe", "t", "--protocol", "file", "--endpoint", target]) == 2
    monkeypatch.setenv("WATCHLAKE__NOTIFY__ALLOW_ABSOLUTE_PATHS", "true")
    assert main(base + ["topics", "subscribe", "t", "--protocol", "file", "--endpoint", target]) == 0
