"""Checks the Markdown a reader follows: every relative link in README.md and docs/ points
at a file that exists, every #anchor at a heading of that file (GitHub's slugs), and every
```mermaid block parses with Mermaid's own parser (tools/mermaid_check.mjs).

Usage: python3 tools/check_docs.py [ROOT]   (ROOT: the repository, by default this one)
Exits 1 with one line per problem: FILE:LINE: what is wrong.
"""
import json
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")


def slug(heading):
    """GitHub's anchor for a heading: formatting dropped, lower case, punctuation other
    than '-' and '_' removed, spaces as hyphens."""
    text = INLINE_CODE.sub(lambda m: m.group(2), heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text).replace("*", "").lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def markdown_lines(path):
    """(line number, text) of the lines outside fenced code, and the fenced mermaid blocks."""
    prose, diagrams, fence, block, start = [], [], None, [], 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.lstrip()
        if fence is None and (stripped.startswith("```") or stripped.startswith("~~~")):
            fence, block, start = stripped[:3], [], number
            language = stripped[3:].strip().lower()
            block_is_mermaid = language == "mermaid"
        elif fence is not None and stripped.startswith(fence):
            if block_is_mermaid:
                diagrams.append({"file": str(path), "line": start, "text": "\n".join(block)})
            fence = None
        elif fence is not None:
            block.append(line)
        else:
            prose.append((number, line))
    return prose, diagrams


def anchors(path, cache={}):
    if path not in cache:
        found, seen = set(), {}
        prose, _ = markdown_lines(path)
        for _, line in prose:
            found.update(HTML_ANCHOR.findall(line))
            match = HEADING.match(line)
            if match:
                base = slug(match.group(2))
                count = seen.get(base, 0)
                seen[base] = count + 1
                found.add(base if count == 0 else f"{base}-{count}")
        cache[path] = found
    return cache[path]


def check_links(root, path, prose):
    problems = []
    for number, line in prose:
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # http:, https:, mailto: and the like: not ours to check offline
            file_part, _, anchor = target.partition("#")
            dest = path if not file_part else (path.parent / file_part).resolve()
            where = f"{path.relative_to(root)}:{number}"
            if not dest.exists():
                problems.append(f"{where}: {target}: no such file")
            elif not dest.resolve().is_relative_to(root):
                problems.append(f"{where}: {target}: outside the repository")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                problems.append(f"{where}: {target}: no heading #{anchor} in {dest.relative_to(root)}")
    return problems


def check_diagrams(root, diagrams):
    if not diagrams:
        return []
    checker = Path(__file__).with_name("mermaid_check.mjs")
    result = subprocess.run(["node", str(checker)], input=json.dumps(diagrams), capture_output=True, text=True,
                            cwd=Path(__file__).parent)
    problems = [line.replace(str(root) + os.sep, "") for line in result.stdout.splitlines() if line]
    if result.returncode != 0 and not problems:
        problems.append(f"the Mermaid check failed: {result.stderr.strip()[-500:]}")
    return problems


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent).resolve()
    files = [root / "README.md"] + sorted((root / "docs").rglob("*.md"))
    problems, diagrams = [], []
    for path in files:
        if not path.exists():
            problems.append(f"{path.relative_to(root)}: missing")
            continue
        prose, found = markdown_lines(path)
        problems += check_links(root, path, prose)
        diagrams += found
    problems += check_diagrams(root, diagrams)
    for problem in problems:
        print(problem)
    print(f"checked {len(files)} files, {len(diagrams)} diagrams: {len(problems)} problems", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
