"""MkDocs hook: serve the repository files that pages link to by their repository path, and check
the README's links into the repository.

The benchmarks write their tables and pictures to bench/results/ and describe their method in
bench/README.md. Pages link them as ../bench/..., so the links work on GitHub too; MkDocs only
knows files under docs/, so this hook adds them to the site at bench/... and `mkdocs build
--strict` checks links to them like any other: a link to a repository file not matched here fails.
README.md is not a page of the site, so its relative links (to docs/*.md, pictures, bench/) are
checked here: one whose file or heading is missing is a warning, which fails `--strict`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from markdown.extensions.toc import slugify
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.pages import Page

# Repository paths (globs from the repository root) that pages may link to; copied, not moved, so
# the benchmarks keep writing where they do and each file exists once in the repository.
REPOSITORY_FILES = ("bench/README.md", "bench/results/*.md", "bench/results/*.png", "bench/results/*/*.png")
# [text](target) and ![alt](target); the target ends at whitespace or ")" (none of ours has either)
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
# a repository page's link to a documentation page, ../docs/<page> from bench/README.md
LINK_INTO_DOCS = re.compile(r"\]\((?:\.\./)+docs/")
log = logging.getLogger("mkdocs.hooks.repository_files")  # under "mkdocs", so --strict counts its warnings


def on_files(files: Files, config: MkDocsConfig) -> Files:
    docs_dir = Path(config.docs_dir)
    root = docs_dir.parent
    for pattern in REPOSITORY_FILES:
        for path in sorted(root.glob(pattern)):
            relative = path.relative_to(root).as_posix()
            # where MkDocs would put the file if it were docs/<relative> (bench/README.md becomes a page)
            placed = File(relative, None, config.site_dir, config.use_directory_urls)
            files.append(
                File(
                    f"../{relative}",  # the path a page's link resolves to, from docs/
                    str(docs_dir),
                    config.site_dir,
                    config.use_directory_urls,
                    dest_uri=placed.dest_uri,
                    inclusion=InclusionLevel.NOT_IN_NAV,
                )
            )
    check_readme_links(root)
    return files


def on_page_markdown(markdown: str, page: Page, **_: object) -> str:
    """A repository page links the docs as ../docs/<page>, right on GitHub; in the site that page's
    path is <page> under docs/, which `validation.absolute_links: relative_to_docs` reads from /<page>."""
    if page.file.src_uri.startswith("../"):
        return LINK_INTO_DOCS.sub("](/", markdown)
    return markdown


def check_readme_links(root: Path) -> None:
    for target in MARKDOWN_LINK.findall((root / "README.md").read_text(encoding="utf-8")):
        path, _, anchor = target.partition("#")
        if not path or "://" in path:
            continue
        if not (root / path).exists():
            log.warning("README.md links '%s', but %s does not exist", target, path)
        elif anchor and path.endswith(".md") and anchor not in heading_ids(root / path):
            log.warning("README.md links '%s', but %s has no heading '#%s'", target, path, anchor)


def heading_ids(page: Path) -> set[str]:
    """The ids the site (and, for plain headings, GitHub) gives the page's headings."""
    headings = re.findall(r"^#+ (.+?)\s*$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {slugify(heading, "-") for heading in headings}
