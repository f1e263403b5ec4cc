"""The guide (a MkDocs Material site in docs/) and the README that fronts it: the site builds
with `mkdocs build --strict`, so a broken link or anchor, or a page left out of the navigation,
fails the suite; and the README stays a short front door whose links and test command hold."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

DOCS = ROOT / "docs"
README = ROOT / "README.md"
CONFIG = ROOT / "mkdocs.yml"
README_MAX_LINES = 250
# Drafts other contributors leave for the maintainers: excluded from the site by mkdocs.yml.
INCOMING = DOCS / "incoming"


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` of `config` into `site`, as a maintainer would run it."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
         "--site-dir", str(site)],
        capture_output=True, text=True, timeout=120,
        # The theme prints a banner about its successor on every build; it says nothing here.
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def copy_of_the_site(folder: Path) -> Path:
    """mkdocs.yml and docs/ (less drafts) copied into `folder`, to be broken on purpose;
    returns the copy's docs folder."""
    docs = folder / "docs"
    shutil.copytree(DOCS, docs, ignore=shutil.ignore_patterns("incoming"))
    shutil.copy(CONFIG, folder / "mkdocs.yml")
    return docs


def guide_texts() -> dict[Path, str]:
    """Every Markdown page of the site, and the README."""
    pages = [p for p in DOCS.rglob("*.md") if INCOMING not in p.parents]
    return {path: path.read_text() for path in [README, *pages]}


def section(text: str, heading: str) -> str:
    """The body of one `## heading` section of a Markdown text."""
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    end = text.find("\n## ", start)
    return text[start:] if end == -1 else text[start:end]


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of each fenced code block, in order."""
    return re.findall(r"^```(\w*)\n(.*?)^```$", text, flags=re.M | re.S)


def test_the_guide_builds_with_strict_checks(tmp_path):
    result = build(CONFIG, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    assert (tmp_path / "site" / "worker" / "index.html").exists()


def test_a_broken_link_or_a_page_left_out_of_nav_fails_the_build(tmp_path):
    """The strict build catches both: a copy of the site with a link to a missing page, a link
    to a missing anchor and a page that nav does not list."""
    docs = copy_of_the_site(tmp_path)
    with (docs / "index.md").open("a") as page:
        page.write("\n[gone](no-such-page.md) and [no anchor](worker.md#no-such-anchor)\n")
    (docs / "orphan.md").write_text("# Not in nav\n")
    result = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    assert "'no-such-page.md'" in result.stderr, result.stderr
    assert "'#no-such-anchor'" in result.stderr, result.stderr
    assert "orphan.md" in result.stderr, result.stderr


def test_drafts_in_docs_incoming_stay_out_of_the_site(tmp_path):
    docs = copy_of_the_site(tmp_path)
    (docs / "incoming").mkdir()
    (docs / "incoming" / "someone.md").write_text("# A draft\n\n[not yet](nowhere.md)\n")
    result = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "site" / "incoming").exists()


def test_the_readme_is_a_front_door_of_at_most_250_lines():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


def test_every_readme_link_into_docs_names_a_page_that_exists():
    links = re.findall(r"\]\((docs/[^)#\s]+)", README.read_text())
    assert len(links) >= 15  # the guide's pages, one link each
    missing = [link for link in links if not (ROOT / link).is_file()]
    assert missing == []


def test_the_readme_test_command_is_what_ci_runs():
    """The README's test command is `pytest`, and `.ci/run` runs exactly that (no arguments)
    on each of its two databases, after the README's install."""
    blocks = code_blocks(section(README.read_text(), "## Tests"))
    assert blocks[0] == ("sh", "pytest\n")
    ci = (ROOT / ".ci" / "run").read_text()
    runs = re.findall(r'^\s*env .*"\$ROOT/\.venv/bin/pytest"(.*)$', ci, flags=re.M)
    assert len(runs) == 2 and all(extra.strip() == "" for extra in runs)
    # ... after installing the project as the README's set-up does.
    install = 'pip install -e ".[dev]"'
    assert install in section(README.read_text(), "## Set-up")
    assert '-m pip install --quiet -e ".[dev]"' in ci


@pytest.mark.parametrize("pattern, what", [
    (r"\bissues? #?\d+", "an issue number"),
    (r"(?<![\w.])#\d+\b", "an issue number"),
    (r"/work/|/home/|/root/|/tmp/", "a machine path"),
    (r"\.\./shared", "a path outside the project"),
    (r"\bthis (?:\d+-vCPU |project's )?machine\b", "'this machine' (name the machine and date)"),
])
def test_the_guide_names_no_issue_numbers_or_machine_paths(pattern, what):
    found = [f"{path.relative_to(ROOT)}: {match.group(0)!r}"
             for path, text in guide_texts().items()
             for match in re.finditer(pattern, text, flags=re.I)]
    assert found == [], f"{what} in the docs: {found}"


# Hosts a link in the guide may name: loopback and the documentation's example domains.
LINK_HOSTS = {"127.0.0.1", "localhost", "queue.example.com", "example.com"}


def test_the_guide_links_to_no_outside_host():
    """Links stay inside the guide (or point at the reader's own machine), so the guide reads
    the same offline and names no service the project does not run."""
    found = [f"{path.relative_to(ROOT)}: {host}"
             for path, text in guide_texts().items()
             for host in re.findall(r"https?://([^/:\s)`\"']+)", text)
             if host not in LINK_HOSTS]
    assert found == []


def test_the_configuration_reference_lists_every_key_of_env_example():
    example = (ROOT / ".env.example").read_text()
    keys = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    assert len(keys) >= 20
    reference = (DOCS / "configuration.md").read_text()
    listed = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", reference, flags=re.M))
    assert keys - listed == set()
