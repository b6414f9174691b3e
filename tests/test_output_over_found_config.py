"""-o never overwrites a file the run reads: the config file pcheck found (not only one given with
--config), here or in a parent folder, as pcheck.toml or as pyproject.toml's [tool.pcheck]."""

from __future__ import annotations

import pytest

from conftest import run_pcheck


@pytest.mark.parametrize("name, text", [("pcheck.toml", 'retries = 0\n'),
                                        ("pyproject.toml", '[project]\nname = "x"\n[tool.pcheck]\nretries = 0\n')])
@pytest.mark.parametrize("where", [".", ".."])
def test_o_naming_the_config_file_found_is_refused_and_the_file_kept(tmp_path, monkeypatch, name, text, where):
    work = tmp_path / "docs"
    work.mkdir()
    config = (work / where / name).resolve()
    config.write_text(text)
    monkeypatch.chdir(work)
    proc = run_pcheck("http://127.0.0.1:1/", "--no-progress", "-o", f"{where}/{name}")
    assert proc.returncode == 2 and "is also an input" in proc.stderr, proc.stderr
    assert config.read_text() == text
