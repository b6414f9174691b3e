"""Directory walks: .gitignore and .ignore honoured as git and ripgrep do, hidden entries skipped, both switchable."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import pcheck.inputs.walk as walk_module
from pcheck.errors import InputError
from pcheck.inputs.sources import count_candidates, iter_targets, open_sources

ROOT_GITIGNORE = """\
# build output, at any depth, as a folder only
build/
# anchored: only the top-level top.md
/top.md
# ** : old.md anywhere below docs
docs/**/old.md
skip*.md
!skip-keep.md
"""
SUB_GITIGNORE = """\
local.md
/only-here.md
!skip-sub.md
"""
FILES = [
    "index.md", "build.md", "top.md", "skip1.md", "skip-keep.md",
    "build/a.md", "sub/build/b.md",
    "sub/top.md", "docs/old.md", "docs/a/b/old.md", "other/old.md", "docs/new.md",
    "local.md", "sub/local.md", "sub/deep/local.md", "sub/only-here.md", "sub/deep/only-here.md",
    "sub/skip-sub.md", "sub/skip2.md",
    ".hidden.md", ".hid/a.md", "sub/.hidden.md", "sub/.hid/c.md",
]
KEPT = [  # what git keeps, less hidden entries
    "build.md", "docs/new.md", "index.md", "local.md", "other/old.md", "skip-keep.md",
    "sub/deep/only-here.md", "sub/skip-sub.md", "sub/top.md",
]


def make_tree(root: Path, files=FILES, ignores: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"[{name}](http://x.example/{name})\n", encoding="utf-8")
    default = {".gitignore": ROOT_GITIGNORE, "sub/.gitignore": SUB_GITIGNORE}
    for name, text in (default if ignores is None else ignores).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def walked(root: Path, **switches) -> list[str]:
    """The files open_sources found under root, relative to it, in its order."""
    return [Path(s.name).relative_to(root).as_posix() for s in open_sources([str(root)], **switches)]


def test_gitignore_files_at_the_root_and_in_a_subfolder_are_honoured_with_gits_rules(tmp_path):
    root = make_tree(tmp_path / "t")
    assert walked(root) == KEPT


TRICKY_GITIGNORE = """\
/*.md
!/index.md
logs/**
!logs/keep.md
out/
!out/keep.md
**/tmp
nested/**/deep.md
\\#hash.md
spaced\\ name.md
trailing.md   
gen/**/
"""
TRICKY_FILES = [
    "index.md", "root.md", "a/root.md", "logs/x.md", "logs/keep.md", "logs/d/y.md", "out/keep.md", "out/z.md",
    "tmp/t.md", "a/b/tmp/t.md", "a/tmp.md", "nested/deep.md", "nested/a/b/deep.md", "a/nested/deep.md",
    "#hash.md", "a/#hash.md", "spaced name.md", "trailing.md", "a/.h/h.md", "a/.h.md",
    "c/keep.md", "c/d/e.md", "gen/g.md", "gen/sub/g.md",
]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git, the oracle")
@pytest.mark.parametrize("files, ignores", [
    (FILES, None),
    (TRICKY_FILES, {".gitignore": TRICKY_GITIGNORE, "c/.gitignore": "*.md\n!keep.md\n", "a/b/.gitignore": "!tmp/\n"}),
], ids=["the-tree", "tricky-patterns"])
def test_the_walk_keeps_exactly_what_git_does_not_ignore(tmp_path, files, ignores):
    root = make_tree(tmp_path / "t", files, ignores)
    git = ["git", "-c", "core.excludesFile=/dev/null", "-C", str(root)]
    subprocess.run([*git, "init", "-q"], check=True)
    listed = subprocess.run([*git, "ls-files", "--others", "--exclude-standard", "-z"],
                            check=True, capture_output=True, text=True).stdout.split("\0")
    by_git = sorted(p for p in listed if p.endswith(".md"))
    visible = [p for p in by_git if not any(part.startswith(".") for part in p.split("/"))]
    if ignores is None:
        assert visible == KEPT  # the oracle agrees with the list the other tests use
    assert walked(root) == visible
    assert walked(root, hidden=True) == by_git
    assert walked(root, ignore_files=False, hidden=True) == sorted(files)


def test_a_dot_ignore_file_re_includes_what_a_gitignore_leaves_out_and_ignores_more(tmp_path):
    root = make_tree(tmp_path / "t", ignores={".gitignore": "build/\nskip*.md\n",
                                              ".ignore": "!build/\n!skip1.md\nindex.md\n"})
    found = walked(root)
    assert "build/a.md" in found and "sub/build/b.md" in found and "skip1.md" in found
    assert "index.md" not in found and "skip-keep.md" not in found and "sub/skip2.md" not in found


def test_hidden_files_and_folders_are_skipped(tmp_path):
    root = make_tree(tmp_path / "t", ignores={})
    found = walked(root)
    assert not [p for p in found if "/." in f"/{p}"]
    assert len(found) == len(FILES) - 4


def test_a_hidden_folder_named_as_input_is_walked_but_hidden_entries_inside_it_are_not(tmp_path):
    github = make_tree(tmp_path / ".github", files=["README.md", "workflows/ci.md", ".draft.md", "ISSUE/x.md"],
                       ignores={".gitignore": "ISSUE/\n"})
    assert walked(github) == ["README.md", "workflows/ci.md"]


def test_a_file_named_on_the_command_line_is_read_even_if_ignored_or_hidden_and_only_once(tmp_path):
    root = make_tree(tmp_path / "t")
    named = [root / "build" / "a.md", root / ".hidden.md", root / "sub" / "local.md"]
    sources = open_sources([str(root), *map(str, named)])
    assert [Path(s.name).relative_to(root).as_posix() for s in sources] == \
        KEPT + ["build/a.md", ".hidden.md", "sub/local.md"]
    assert [s.kind for s in sources[-3:]] == ["document"] * 3


def test_no_ignore_and_hidden_turn_each_rule_off(tmp_path):
    root = make_tree(tmp_path / "t")
    hidden = [p for p in FILES if "/." in f"/{p}"]
    assert walked(root, ignore_files=False) == sorted(set(FILES) - set(hidden))
    assert walked(root, hidden=True) == sorted(KEPT + hidden)  # no pattern ignores them
    assert walked(root, ignore_files=False, hidden=True) == sorted(FILES)


def test_git_internals_are_never_walked_even_with_hidden(tmp_path):
    root = make_tree(tmp_path / "t", files=["a.md", ".git/b.md", ".github/c.md"], ignores={})
    assert walked(root, hidden=True, ignore_files=False) == [".github/c.md", "a.md"]
    assert walked(root / ".git") == ["b.md"]  # named: walked


def test_count_candidates_counts_only_the_links_of_walked_files(tmp_path):
    root = make_tree(tmp_path / "t")
    for switches, expected in (({}, len(KEPT)), ({"ignore_files": False, "hidden": True}, len(FILES))):
        sources = open_sources([str(root)], **switches)
        assert count_candidates(sources) == expected == len(list(iter_targets(sources)))
    assert {t.url.rsplit("/", 1)[-1] for t in iter_targets(open_sources([str(root)]))} == \
        {p.rsplit("/", 1)[-1] for p in KEPT}


def test_gitignores_above_the_walked_folder_count_up_to_the_repository_top_only(tmp_path):
    make_tree(tmp_path, files=[], ignores={".gitignore": "*.md\n"})  # above the repository: not read
    repo = make_tree(tmp_path / "repo", files=["docs/a.md", "docs/draft-1.md", "docs/guide/draft-2.md"],
                     ignores={".gitignore": "draft-*.md\n/docs/guide/\n"})
    (repo / ".git").mkdir()
    assert walked(repo / "docs") == ["a.md"]  # patterns relative to the repository's top
    assert walked(repo / "docs" / "guide") == ["draft-2.md"]  # named, ignored from above: its own files only
    (repo / ".git").rmdir()  # no repository: only the walked folder's own ignore files
    assert walked(repo / "docs") == ["a.md", "draft-1.md", "guide/draft-2.md"]


def test_a_folder_named_as_input_is_walked_even_if_ignored_from_above_with_its_own_ignore_files(tmp_path):
    repo = make_tree(tmp_path / "repo", files=["build/a.md", "build/b.md", "build/x/c.md"],
                     ignores={".gitignore": "build/\n", "build/.gitignore": "b.md\n"})
    (repo / ".git").mkdir()
    assert walked(repo / "build") == ["a.md", "x/c.md"]
    with pytest.raises(InputError, match="a directory with no documents"):
        open_sources([str(repo)])


def test_a_pattern_pathspec_cannot_compile_is_skipped_with_a_warning_naming_file_and_line(tmp_path, caplog):
    root = make_tree(tmp_path / "t", files=["a.md", "b.md", "c.md", "z.md"],
                     ignores={".gitignore": "\ufeffa.md\r\ntrailing\\\r\nb.md\r\n[z-a].md\r\n!\r\n"})
    with caplog.at_level(logging.WARNING, logger="pcheck"):
        assert walked(root) == ["c.md", "z.md"]  # BOM and CRLF read as git reads them
    gitignore = root / ".gitignore"
    assert [r.getMessage().split(" pattern")[0] for r in caplog.records] == \
        [f"warning: {gitignore}:{n}:" for n in (2, 4, 5)]


def test_an_ignore_file_that_cannot_be_read_is_a_usage_error_naming_it(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "t", files=["a.md"], ignores={".gitignore": "b.md\n", "sub/.ignore": "x\n"})
    real_open = os.open

    def refusing_open(path, *args, **kwargs):
        if os.fspath(path).endswith(".ignore"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(walk_module.os, "open", refusing_open)
    with pytest.raises(InputError, match=f"^{root / 'sub' / '.ignore'}: Permission denied .*--no-ignore"):
        open_sources([str(root)])
    assert walked(root, ignore_files=False) == ["a.md"]


def test_symlinked_folders_are_not_followed_so_a_loop_ends_and_ignore_rules_see_the_link(tmp_path):
    root = make_tree(tmp_path / "t", files=["a.md", "sub/b.md", "sub/c.md"], ignores={".gitignore": "c.md\n"})
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    (root / "linked.md").symlink_to(root / "sub" / "b.md")
    assert walked(root) == ["a.md", "linked.md", "sub/b.md"]


def test_a_warning_from_another_thread_is_never_blamed_on_an_ignore_file(tmp_path, caplog):
    """catch_warnings is process-wide: a thread warning while ignore files are read (a library caller's,
    a lingering socket's ResourceWarning) must not become 'pattern may not match as git would'."""
    import threading
    import warnings

    root = make_tree(tmp_path / "t", files=["a.md"], ignores={".gitignore": "".join(f"x{i}.md\n" for i in range(3000))})
    done = threading.Event()

    def noisy() -> None:
        while not done.is_set():
            warnings.warn("not about any pattern", UserWarning)

    thread = threading.Thread(target=noisy, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.WARNING, logger="pcheck"):
            assert walked(root) == ["a.md"]
    finally:
        done.set()
        thread.join(5)
    assert not [r.getMessage() for r in caplog.records if "may not match" in r.getMessage()]
