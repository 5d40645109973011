"""User YAML files (config, mapping): safe loading, aliases refused fast, one short error line."""

from __future__ import annotations

import pytest

from tests.conftest import write_jsonl
from tests.test_cli import PAIR, run

LAUGHS = "#laughs\na: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{b}: &{b} [{','.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi"))


def test_the_billion_laughs_config_is_small():
    assert len(LAUGHS.encode()) == 332


@pytest.mark.parametrize("option", ["--config", "--mapping"])
def test_nested_anchors_fail_fast_with_exit_2(tmp_path, option):
    (tmp_path / "bomb.yaml").write_text(LAUGHS)
    done = run("check", option, tmp_path / "bomb.yaml", "--pixel", write_jsonl(tmp_path / "p.jsonl", PAIR), "--quiet")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "aliases (*name) are not allowed" in done.stderr and "line 3, column" in done.stderr
    assert len(done.stderr) < 300


def test_python_tags_are_not_constructed(tmp_path):
    (tmp_path / "dedupaudit.yaml").write_text("title: !!python/object/apply:os.system ['touch pwned']\n")
    done = run("check", "--config", tmp_path / "dedupaudit.yaml", "--pixel", write_jsonl(tmp_path / "p.jsonl", PAIR), cwd=tmp_path)
    assert done.returncode == 2 and not (tmp_path / "pwned").exists()


def test_a_huge_wrong_value_is_cut_short(tmp_path):
    (tmp_path / "c.yaml").write_text("title: [" + ",".join(["x" * 50] * 2000) + "]\n")
    done = run("check", "--config", tmp_path / "c.yaml", "--pixel", write_jsonl(tmp_path / "p.jsonl", PAIR))
    assert done.returncode == 2 and "title: ['xxx" in done.stderr and "is not text (valid: text)" in done.stderr and len(done.stderr) < 300 + len(str(tmp_path))  # 100 kB of value, one short line
