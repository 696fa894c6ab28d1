"""README.md stays on a screen and its links lead somewhere; the rest of the documentation is the MkDocs site in
docs/ (`make docs` builds it with --strict, which checks the links between its pages)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def relative_links(text: str) -> list[str]:
    """The targets of the Markdown links and images in `text` that are neither web addresses nor anchors."""
    return [target for target in LINK.findall(text) if not target.startswith(("http://", "https://", "mailto:", "#"))]


def heading_anchors(path: Path) -> set[str]:
    """The anchors GitHub (and MkDocs' toc) give the headings of a Markdown file, outside code fences."""
    anchors, fenced = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"^#{1,6}\s+(.*?)\s*#*$", line)):
            text = re.sub(r"[^\w\- ]", "", heading.group(1).lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def test_readme_fits_on_a_screen():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines: move the detail into a page of docs/"


def test_readme_links_lead_to_files_and_headings():
    links = relative_links(README.read_text(encoding="utf-8"))
    assert links, "README.md links to no page of docs/"
    for link in links:
        path, _, anchor = link.partition("#")
        target = (README.parent / path).resolve()
        assert target.is_file(), f"README.md links to {link}: {target} does not exist"
        if anchor and target.suffix == ".md":
            assert anchor in heading_anchors(target), f"README.md links to {link}: {path} has no heading #{anchor}"


def test_the_relative_links_found_are_the_ones_written():
    text = "[a](docs/a.md) [b](docs/b.md#part) ![c](c.png) [d](https://example.org) [e](#here)"
    assert relative_links(text) == ["docs/a.md", "docs/b.md#part", "c.png"]
