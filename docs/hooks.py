"""MkDocs hook: render the pages' Markdown as GitHub does where Python-Markdown differs.

GitHub starts a list right after a paragraph line; Python-Markdown needs a blank line before it, and without one the
items run into the paragraph. The pages are written for both (they read on GitHub as they are), so a blank line is
added before such a list when the page is built; the files are left as written.
"""

import re

LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)]) ")
FENCE = re.compile(r"^ {0,3}(?:```|~~~)")


def separate_lists(markdown: str) -> str:
    """`markdown` with a blank line before every list that directly follows a paragraph line (outside code fences)."""
    out: list[str] = []
    fenced = in_list = False
    for line in markdown.split("\n"):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            if not line.strip():
                in_list = False
            elif LIST_ITEM.match(line):
                previous = out[-1] if out else ""
                if not in_list and previous.strip() and not previous.lstrip().startswith(("#", "|")):
                    out.append("")
                in_list = True
        out.append(line)
    return "\n".join(out)


def on_page_markdown(markdown: str, **kwargs) -> str:
    return separate_lists(markdown)
