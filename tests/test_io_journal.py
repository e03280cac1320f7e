"""The one resumable journal (expo.io.journal): cut lines, headers, strictness, concurrent appenders."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from expo.errors import ExpoError
from expo.io.journal import Journal


def keyed(path, **kwargs) -> Journal:
    return Journal(path, key=lambda r: r["k"], **kwargs)


def test_cut_last_line_is_dropped_and_never_glued(tmp_path):
    path = tmp_path / "j.jsonl"
    with keyed(path, header={"run": 1}) as j:
        j.append([{"k": 1, "v": "a"}, {"k": 2, "v": "b"}])
    with open(path, "a") as fh:
        fh.write('{"k": 3, "v": "c')  # a kill mid-line
    with keyed(path, header={"run": 1}) as again:
        assert set(again.records) == {1, 2}
        again.append({"k": 3, "v": "c"})
    lines = path.read_text().splitlines()
    assert [json.loads(x) for x in lines] == [
        {"header": {"run": 1}},
        {"k": 1, "v": "a"},
        {"k": 2, "v": "b"},
        {"k": 3, "v": "c"},
    ]
    assert keyed(path, header={"run": 1}).records[3] == {"k": 3, "v": "c"}


def test_complete_unterminated_line_is_kept(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text('{"k": 1}\n{"k": 2}')
    with keyed(path) as j:
        assert set(j.records) == {1, 2}
        j.append({"k": 3})
    assert path.read_text() == '{"k": 1}\n{"k": 2}\n{"k": 3}\n'


def test_other_header_discards_and_last_record_wins(tmp_path, caplog):
    path = tmp_path / "j.jsonl"
    with keyed(path, header={"model": "a"}) as j:
        j.append([{"k": 1, "v": 1}, {"k": 1, "v": 2}])
    assert keyed(path, header={"model": "a"}).records == {1: {"k": 1, "v": 2}}
    assert keyed(path, header={"model": "b"}).records == {}
    assert "different run" in caplog.text and not path.exists()


def test_malformed_middle_line_strict_or_skipped(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text('{"k": 1}\n{broken\n{"k": 2}\n')
    with pytest.raises(ExpoError, match=r"j\.jsonl:2: malformed progress line"):
        keyed(path, what="progress")
    assert set(keyed(path, strict=False).records) == {1, 2}
    with pytest.raises(ExpoError, match=r"j\.jsonl:1: malformed progress record: no"):
        Journal(
            path,
            key=lambda r: r["k"],
            parse=lambda r: (_ for _ in ()).throw(ValueError("no")),
            what="progress",
        )


def _append_many(path, worker):
    with keyed(path) as j:
        for i in range(200):
            j.append({"k": f"{worker}-{i}", "pad": "x" * 5000})


def test_two_processes_append_whole_lines(tmp_path):
    path = tmp_path / "j.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(path, w)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(keyed(path).records) == 400
