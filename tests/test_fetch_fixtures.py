"""`expo fetch-fixtures` against a loopback HTTP mirror of the upstream repositories built from the shared data:
every file lands byte-identical, a sha256 mismatch is one line and writes nothing, a rerun resumes."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest

from expo.cli import main
from expo.fixtures import fetch_command
from expo.fixtures.manifest import FIXTURES, SOURCES


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def mirror(shared_data, tmp_path):
    """A loopback server laid out as raw.githubusercontent.com (OWNER/REPO/COMMIT/PATH), holding the shared
    files at their upstream paths (a derived fixture's source is served as the shared file it yields)."""
    root = tmp_path / "mirror"
    for fixture in FIXTURES:
        repo, commit = SOURCES[fixture.source]
        dest = root / repo / commit / fixture.upstream
        if fixture.derive and fixture.derive[0] == "json_fields" and dest.exists():
            continue  # eval set and reference outputs share one upstream file: serve the full records
        if fixture.derive and fixture.path.endswith("eval_set.json"):
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((shared_data / fixture.path).read_bytes())
    ref = next(f for f in FIXTURES if f.path.endswith("reference_outputs_gpt4_1106_preview.json"))
    assert (root / SOURCES[ref.source][0] / SOURCES[ref.source][1] / ref.upstream).is_file()
    handler = functools.partial(CountingHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, server, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def fetch(out, url, capsys):
    """(rc, stdout, stderr without tqdm's progress lines)."""
    rc = main(["fetch-fixtures", "--out", str(out), "--base-url", url])
    captured = capsys.readouterr()
    err = "\n".join(line for line in captured.err.splitlines() if line and not line.startswith("fixtures:"))
    return rc, captured.out, err


def test_manifest_lists_every_shared_file(shared_data):
    on_disk = {str(p.relative_to(shared_data)) for p in shared_data.rglob("*") if p.is_file()}
    assert {f.path for f in FIXTURES} == on_disk - {"PAPER.md"}  # PAPER.md is our transcription, not upstream


def test_fetch_verifies_and_resumes(mirror, shared_data, tmp_path, capsys):
    root, server, url = mirror
    out = tmp_path / "fixtures"
    rc, stdout, err = fetch(out, url, capsys)
    assert rc == 0, err
    assert f"{len(FIXTURES)} fetched, 0 already present" in stdout
    for fixture in FIXTURES:
        assert (out / fixture.path).read_bytes() == (shared_data / fixture.path).read_bytes(), fixture.path
    upstream_urls = {f.url(url)[len(url) :] for f in FIXTURES}
    assert sorted(server.requests) == sorted(upstream_urls)  # the shared upstream file is downloaded once

    # resume: one file lost, one corrupted -> exactly their sources are fetched again
    (out / "mt_bench/question.jsonl").unlink()
    (out / "lmeval_published/tulu-2-dpo-7b/arc.json").write_text("{}")
    server.requests.clear()
    rc, stdout, err = fetch(out, url, capsys)
    assert rc == 0, err
    assert f"2 fetched, {len(FIXTURES) - 2} already present" in stdout
    assert sorted(p.rsplit("/", 2)[-2:][-1] for p in server.requests) == ["arc.json", "question.jsonl"]
    assert (out / "lmeval_published/tulu-2-dpo-7b/arc.json").read_bytes() == (
        shared_data / "lmeval_published/tulu-2-dpo-7b/arc.json"
    ).read_bytes()


def test_sha256_mismatch_is_one_line_and_writes_nothing(mirror, tmp_path, capsys):
    root, server, url = mirror
    question = next(f for f in FIXTURES if f.path == "mt_bench/question.jsonl")
    served = root / SOURCES[question.source][0] / SOURCES[question.source][1] / question.upstream
    good = served.read_bytes()
    served.write_bytes(good.replace(b"Compose", b"Compost", 1))
    out = tmp_path / "fixtures"
    rc, _, err = fetch(out, url, capsys)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, err
    assert lines[0].startswith("expo fetch-fixtures: error: mt_bench/question.jsonl: sha256 ")
    assert question.sha256 in lines[0] and "not written" in lines[0]
    assert not (out / "mt_bench" / "question.jsonl").exists()
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temp files left
    written_before = {p for p in out.rglob("*") if p.is_file()}
    assert all(p.name != "question.jsonl" for p in written_before)

    served.write_bytes(good)  # upstream fixed: the rerun fetches only what is missing
    server.requests.clear()
    rc, stdout, err = fetch(out, url, capsys)
    assert rc == 0, err
    assert f"{len(FIXTURES) - len(written_before)} fetched, {len(written_before)} already present" in stdout
    assert (out / "mt_bench/question.jsonl").read_bytes() == good


def test_http_error_is_one_line(mirror, tmp_path, capsys):
    _, _, url = mirror
    rc, _, err = fetch(tmp_path / "fixtures", url + "/nothing-here", capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert (
        err.startswith("expo fetch-fixtures: error: cannot download http://127.0.0.1:") and "HTTP 404" in err
    )


def test_skip_message_names_the_command(tmp_path):
    assert fetch_command() == "expo fetch-fixtures"
    assert fetch_command(tmp_path / "fx") == f"expo fetch-fixtures --out {tmp_path / 'fx'}"
