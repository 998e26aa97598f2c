from pathlib import Path

from devtools.protogen import stale_files

ROOT = Path(__file__).resolve().parent.parent


def test_generated_protobuf_code_is_current():
    assert stale_files(ROOT / "proto") == []


def test_a_stale_file_is_reported(tmp_path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "x.proto").write_text('syntax = "proto3";\npackage demo;\nmessage X { int32 a = 1; }\n')
    problems = stale_files(tmp_path)
    assert any("missing" in p and "x_pb2.py" in p for p in problems)
