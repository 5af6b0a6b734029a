"""The docs: the site builds strictly, every relative link resolves, and every command and flag
the README and the docs name is one `--help` knows."""
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from budgetnet.cli import app

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "reports" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\n]+)`|```bash\n(.*?)```", re.S)


def test_the_docs_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "site" / "errors" / "index.html").is_file()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        assert (page.parent / target.split("#")[0]).exists(), f"{page.name}: broken link {target}"


def _commands() -> dict:
    root = typer.main.get_command(app)
    out = {}
    for name, cmd in root.commands.items():
        if hasattr(cmd, "commands"):  # a group: bench
            out.update({(name, sub): c for sub, c in cmd.commands.items()})
        out[(name,)] = cmd
    return out


def named_commands(text: str):
    """(command words, flags) of every `budgetnet ...` written in code in `text`."""
    for inline, block in CODE.findall(text):
        for line in (inline or block).splitlines():
            line = line.split(" #")[0].strip().removeprefix("$ ")
            for part in re.split(r"&&|;|\|(?!\|)", line):
                try:
                    words = shlex.split(part.strip().replace("\\|", "|"))
                except ValueError:
                    continue
                if len(words) >= 2 and words[0] == "budgetnet" and re.fullmatch(r"[a-z]+", words[1]):
                    yield words


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_and_flag_named_is_one_help_knows(page):
    commands, seen = _commands(), 0
    for words in named_commands(page.read_text()):
        key = (words[1], words[2]) if (words[1], words[2] if len(words) > 2 else "") in commands else (words[1],)
        assert key in commands, f"{page.name}: `{' '.join(words)}`: no command {' '.join(key)}"
        known = {opt for p in commands[key].params for opt in p.opts + p.secondary_opts}
        for flag in (w.split("=")[0] for w in words if w.startswith("--")):
            assert flag in known, f"{page.name}: `{' '.join(words)}`: {' '.join(key)} has no {flag}"
        seen += 1
    if page.name == "README.md" and page.parent == ROOT:
        assert seen >= 10  # the parser reads the README's commands at all
