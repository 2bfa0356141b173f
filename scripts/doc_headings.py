#!/usr/bin/env python3
"""Checks that every heading of an older README has a home in README.md or docs/*.md.

    python3 scripts/doc_headings.py REV     # e.g. the commit before the README was split

A heading is at home when the same text is a heading of README.md or of a page of docs/,
or when the table below names the page (and heading) it became. Exit 1 names the rest.
"""
import pathlib, re, subprocess, sys

# Old heading -> where it went, for headings that became a page's title or were renamed.
MOVED = {
    "A tour": "README.md#a-60-second-tour",
    "Commands": "README.md (its one line, 'every command's --help shows examples', is in the Documentation paragraph)",
    "Install": "docs/install.md",
    "`seed bulk`": "docs/bulk.md",
    "Subsets: `seed snapshot create NAME --subset TABLE:ROWS`": "docs/subsets.md",
    "Masked snapshots: `seed snapshot create NAME --mask auto|strict|FILE`": "docs/masking.md",
    "`seed snapshot restore NAME`": "docs/restore.md",
    "Snapshot stores: `--snapshot-dir s3://BUCKET/PREFIX`": "docs/stores.md",
    "`seed prepare NAME [bulk options]`": "docs/prepare.md",
    "`seed clone NAME`: a fresh database per test": "docs/clone.md",
    "`seed doctor`": "docs/doctor.md",
    "MySQL and MariaDB": "docs/mysql.md",
    "Snapshot file format (version 2)": "docs/format.md",
    "Exit codes": "docs/exit-codes.md",
    "Reliability": "docs/reliability.md",
    "Performance": "docs/performance.md",
    "Limitations": "docs/limitations.md",
    "Layout": "README.md#layout and docs/architecture.md",
}


def headings(text):
    out, fence = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        elif not fence and re.match(r"#{1,6} ", line):
            out.append(line.lstrip("#").strip())
    return out


def main():
    rev = sys.argv[1] if len(sys.argv) > 1 else "HEAD"
    root = pathlib.Path(__file__).resolve().parent.parent
    old = subprocess.run(["git", "-C", str(root), "show", f"{rev}:README.md"], check=True,
                         capture_output=True, text=True).stdout
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    new = {h: p.relative_to(root) for p in pages for h in headings(p.read_text())}
    missing = []
    for h in headings(old):
        where = new.get(h) or MOVED.get(h)
        if where is None:
            missing.append(h)
        else:
            print(f"ok  {h}  ->  {where}")
    for h in missing:
        print(f"NO HOME  {h}")
    print(f"{len(headings(old)) - len(missing)} of {len(headings(old))} headings have a home")
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
