"""The repository documents itself: no reference to files outside it, no dead doc links.

Code, configs, tools, tests and docs cite the repository's own pages (``docs/method.md#...``);
a citation of a design note that only existed next to the repository, or of a page section that
was renamed, is a dead end for a reader. Anchors are compared as GitHub renders them.
"""
import os
import re
import subprocess
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
THIS_FILE = Path(__file__).resolve()

# Names of notes that were kept outside the repository while it was written; the pieces are
# joined so that this file does not match itself.
OUTSIDE_REFERENCES = (
    'DESIGN' + r'\.md',
    'official_code' + '_notes',
    'paper_multi' + 'roi',
    'cliff_' + 'slides',
    'STYLE' + r'\.md',
    'INSTALL' + '_NOTES',
    'design ' + 'notes',
    'shared/' + 'docs',
)
OUTSIDE_PATTERN = re.compile('|'.join(OUTSIDE_REFERENCES), re.IGNORECASE)
# A page cited from code or text: docs/<page>.md, optionally with #anchor.
DOC_CITATION = re.compile(r'(?<![\w/.-])(docs/[\w./-]+?\.md)(?:#([\w-]+))?')
# A Markdown link target in a .md file: [text](target).
MARKDOWN_LINK = re.compile(r'\]\(([^)\s]+)\)')
HEADING = re.compile(r'^(#{1,6})\s+(.*?)\s*#*\s*$')
FENCE = re.compile(r'^\s*(```|~~~)')
# Directories never scanned when git cannot list the tracked files.
UNTRACKED_DIRS = {'.git', 'data', 'work_dirs', '__pycache__', '.ruff_cache', '.pytest_cache',
                  'build', 'dist', '.mypy_cache'}


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading (without the ``-N`` duplicate suffix).

    Inline markup is dropped (code spans keep their text, links their label), the text is
    lower-cased, every character that is not a letter, digit, space, hyphen or underscore is
    removed, and spaces become hyphens.
    """
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)
    text = text.replace('`', '').replace('*', '')
    text = text.strip().lower()
    text = ''.join(ch for ch in text if ch.isalnum() or ch in ' -_')
    return text.replace(' ', '-')


def markdown_anchors(markdown: str) -> Set[str]:
    """Every heading anchor of a Markdown text, with GitHub's ``-1``, ``-2`` for repeats."""
    anchors: Set[str] = set()
    seen: Dict[str, int] = {}
    in_fence = False
    for line in markdown.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else HEADING.match(line)
        if match is None:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f'{slug}-{count}')
    return anchors


def _tracked_files() -> List[Path]:
    try:
        out = subprocess.run(['git', 'ls-files', '-z'], cwd=REPO_ROOT, capture_output=True,
                             check=True, timeout=60).stdout
        files = [REPO_ROOT / name for name in out.decode().split('\0') if name]
        if files:
            return [path for path in files if path.is_file()]
    except (OSError, subprocess.SubprocessError):
        pass
    found = []
    for folder, dirs, names in os.walk(REPO_ROOT):
        dirs[:] = [d for d in dirs if d not in UNTRACKED_DIRS and not d.endswith('.egg-info')]
        found += [Path(folder) / name for name in names]
    return found


def _text_files() -> Iterator[Tuple[Path, str]]:
    for path in _tracked_files():
        if path.resolve() == THIS_FILE:
            continue
        try:
            yield path, path.read_text(encoding='utf-8')
        except (UnicodeDecodeError, OSError):
            continue  # images and other binary files


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


def outside_references(text: str) -> List[Tuple[int, str]]:
    """``(line number, line)`` of every reference to a note outside the repository."""
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)
            if OUTSIDE_PATTERN.search(line)]


def test_github_slug_matches_github_rendering():
    # Hand-derived from GitHub's rules (lower case, punctuation dropped, spaces to hyphens).
    assert github_slug("What differs from the authors' code and why") == \
        'what-differs-from-the-authors-code-and-why'
    assert github_slug('`bbox_info`') == 'bbox_info'
    assert github_slug('RoI-aware fusion') == 'roi-aware-fusion'
    assert github_slug('Install (CPU, no licensed files)') == 'install-cpu-no-licensed-files'
    assert github_slug('1. Crop -> full') == '1-crop---full'
    assert markdown_anchors('# A\n## A\n```\n# not a heading\n```\n### B c\n') == \
        {'a', 'a-1', 'b-c'}


def test_outside_reference_detector_finds_them():
    text = 'ok\n# see ' + 'DESIGN' + '.md §4\nfine\n' + 'official_code' + '_notes.md §2'
    assert [number for number, _ in outside_references(text)] == [2, 4]
    assert outside_references('docs/method.md#crop-and-full-cameras') == []


def test_no_reference_to_files_outside_the_repository():
    found = [f'{_rel(path)}:{number}: {line}' for path, text in _text_files()
             for number, line in outside_references(text)]
    assert not found, ('These lines cite notes that are not in the repository; cite the '
                       "repository's own page instead (docs/method.md#<section>, "
                       'docs/CONVENTIONS.md):\n' + '\n'.join(found))


def _anchors_of(page: Path, cache: Dict[Path, Set[str]]) -> Set[str]:
    if page not in cache:
        cache[page] = markdown_anchors(page.read_text(encoding='utf-8'))
    return cache[page]


def test_cited_doc_pages_and_anchors_exist():
    cache: Dict[Path, Set[str]] = {}
    problems = []
    for path, text in _text_files():
        for number, line in enumerate(text.splitlines(), 1):
            for page_name, anchor in DOC_CITATION.findall(line):
                page = REPO_ROOT / page_name
                where = f'{_rel(path)}:{number}: {page_name}' + (f'#{anchor}' if anchor else '')
                if not page.is_file():
                    problems.append(f'{where} (no such page)')
                elif anchor and anchor not in _anchors_of(page, cache):
                    problems.append(f'{where} (no such section; sections: '
                                    f'{sorted(_anchors_of(page, cache))})')
    assert not problems, 'Dead documentation citations:\n' + '\n'.join(problems)


def test_markdown_links_resolve():
    cache: Dict[Path, Set[str]] = {}
    problems = []
    for path, text in _text_files():
        if path.suffix.lower() != '.md':
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for target in MARKDOWN_LINK.findall(line):
                if re.match(r'^[a-z][a-z0-9+.-]*:', target, re.IGNORECASE):
                    continue  # http(s):, mailto: ...
                file_part, _, anchor = target.partition('#')
                page = (path.parent / file_part).resolve() if file_part else path
                where = f'{_rel(path)}:{number}: ({target})'
                if not page.exists():
                    problems.append(f'{where} (no such file)')
                elif anchor and page.suffix.lower() == '.md' and \
                        anchor not in _anchors_of(page, cache):
                    problems.append(f'{where} (no such section)')
    assert not problems, 'Dead Markdown links:\n' + '\n'.join(problems)


@pytest.mark.parametrize('page', ['docs/method.md', 'docs/CONVENTIONS.md'])
def test_method_and_conventions_link_each_other(page):
    other = 'CONVENTIONS.md' if page.endswith('method.md') else 'method.md'
    assert f']({other}' in (REPO_ROOT / page).read_text(encoding='utf-8')
