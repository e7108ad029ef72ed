"""The manifest of an output folder: one line per event, the latest line per input wins, one run at a time."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vidcolor.batch.manifest import MANIFEST_NAME, Manifest, Record
from vidcolor.utils.errors import UserError
from vidcolor.utils.folder_lock import LOCK_NAME


def test_the_manifest_survives_a_torn_last_line_and_allows_one_run_at_a_time(tmp_path):
    record = Record("a.png", 1, 2, "a.png", "done", "fusion", {"crf": 18})
    with Manifest(tmp_path) as m:
        m.write(record)
        with pytest.raises(UserError, match="another vidcolor run"):
            Manifest(tmp_path)
    with (tmp_path / MANIFEST_NAME).open("a") as f:
        f.write('{"input": "b.png", "size": 3, "mtim')  # the machine died while writing
    with Manifest(tmp_path) as m:
        assert m.records == {"a.png": record}
    assert (tmp_path / MANIFEST_NAME).read_text().count("\n") == 1


def test_the_latest_line_of_an_input_wins_and_a_rewrite_keeps_only_it(tmp_path):
    started = Record("reel.mp4", 10, 20, "reel.mp4", "started", "fusion", {"crf": 18})
    with Manifest(tmp_path) as m:
        m.write(started)
        m.write(started.update(status="done", frames=250, duration=10.0))
    assert (tmp_path / MANIFEST_NAME).read_text().count("\n") == 2  # appended, never rewritten mid-run
    with Manifest(tmp_path) as m:
        assert m.get("reel.mp4").status == "done" and m.get("reel.mp4").frames == 250
        assert m.get("other.mp4") is None
    assert (tmp_path / MANIFEST_NAME).read_text().count("\n") == 1  # the next run keeps the latest line only
    assert (tmp_path / LOCK_NAME).exists()


def test_a_line_from_a_newer_vidcolor_with_more_fields_still_loads(tmp_path):
    line = {"input": "a.png", "size": 1, "mtime_ns": 2, "output": "a.png", "status": "done", "model": "fusion",
            "options": {}, "added_later": True}
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(line) + "\n")
    with Manifest(tmp_path) as m:
        assert m.get("a.png").status == "done"


def test_a_file_name_that_is_not_utf_8_round_trips(tmp_path):
    name = b"caf\xe9.png".decode("utf-8", "surrogateescape")  # a Latin-1 name as Python sees it
    with Manifest(tmp_path) as m:
        m.write(Record(name, 1, 2, name, "done", "fusion", {}))
    assert (tmp_path / MANIFEST_NAME).read_bytes().isascii()
    with Manifest(tmp_path) as m:
        assert m.get(name) is not None


def test_an_output_folder_that_cannot_be_written_is_one_line(tmp_path):
    with pytest.raises(UserError, match="cannot write into the output folder"):
        Manifest(tmp_path / "missing")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="a disk with no room left: Linux's /dev/full")
def test_a_disk_that_fills_up_during_a_run_is_named_in_one_line_and_the_folder_is_free_again(tmp_path):
    """It said only "[Errno 28] No space left on device", naming no file."""
    record = Record("a.png", 1, 2, "a.png", "started", "fusion", {"crf": 18})
    with pytest.raises(UserError, match=re.escape(f"{tmp_path / MANIFEST_NAME}: cannot write the manifest (No space")):
        with Manifest(tmp_path) as manifest:
            manifest._file = Path("/dev/full").open("a")  # its lines now go where there is no room
            manifest.write(record)
    with Manifest(tmp_path) as manifest:  # not left locked
        assert manifest.records == {}
