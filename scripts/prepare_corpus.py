#!/usr/bin/python3
"""Converts the default corpus (English prose from Debian packages) to plain UTF-8 text.

    scripts/prepare_corpus.py OUTDIR [--jobs N]

Writes one text file per source into OUTDIR, documents separated by a line holding only a
form feed (U+000C), which is what `moescale data` splits documents on:

    kernel-docs.txt  linux-doc-6.1: one HTML page of the kernel's documentation per document
                     (the article body converted to text; translations/ and the MAINTAINERS
                     list are left out: not English prose)
    gcide.txt        dict-gcide: the GNU Collaborative International Dictionary of English;
                     one document per run of entries whose headwords share their first three
                     letters (pronunciation and source markup removed)
    kjv.txt          bible-kjv-text (read with bible-kjv's `bible`): one book per document

and OUTDIR/corpus.json (packages, versions, documents and bytes per file). Idempotent: when
corpus.json records the same package versions and converter version, nothing is redone. Every
file is written to a temporary name and renamed, so an interrupted run leaves no partial file.
Standard library only; run with /usr/bin/python3.
"""

import argparse
import gzip
import html
import html.parser
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time

CONVERTER_VERSION = 1
DOC_SEP = "\n\f\n"
KERNEL_HTML = "/usr/share/doc/linux-doc-6.1/html"
GCIDE_DICT = "/usr/share/dictd/gcide.dict.dz"
PACKAGES = {
    "kernel-docs.txt": ["linux-doc-6.1"],
    "gcide.txt": ["dict-gcide"],
    "kjv.txt": ["bible-kjv-text", "bible-kjv"],
}


def fail(message):
    print(f"prepare_corpus: error: {message}", file=sys.stderr)
    sys.exit(2)


def package_version(name):
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status}\t${Version}", name],
                         capture_output=True, text=True)
    status, _, version = out.stdout.partition("\t")
    if out.returncode != 0 or status != "install ok installed":
        fail(f"Debian package {name} is not installed; run ./scripts/setup.sh")
    return version


def write_atomic(path, text):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix="." + os.path.basename(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# ---- linux-doc: Sphinx HTML -> text -------------------------------------------------------

BLOCK_TAGS = {"p", "div", "section", "blockquote", "dl", "dt", "dd", "ul", "ol", "table",
              "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "figure", "figcaption",
              "caption", "hr", "aside", "li"}
SKIP_CLASSES = {"headerlink", "section-number"}


class ArticleText(html.parser.HTMLParser):
    """Text of a Sphinx page's article body: paragraphs on one line, <pre> kept verbatim."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out = []        # finished lines
        self.line = []       # pieces of the current line
        self.pre = 0         # depth inside <pre>
        self.skip = []       # stack: does this open tag suppress its text?
        self.skipping = 0

    def flush(self, blank=False):
        text = re.sub(r"\s+", " ", "".join(self.line)).strip()
        self.line = []
        if text:
            self.out.append(text)
        if blank and self.out and self.out[-1] != "":
            self.out.append("")

    def handle_starttag(self, tag, attrs):
        classes = set((dict(attrs).get("class") or "").split())
        skip = tag in ("script", "style") or bool(classes & SKIP_CLASSES)
        if tag not in ("br", "hr", "img", "meta", "link", "input", "wbr"):
            self.skip.append(skip)
            self.skipping += skip
        if tag == "pre":
            self.flush(blank=True)
            self.pre += 1
        elif tag in BLOCK_TAGS:
            self.flush(blank=tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "dl", "table"))
            if tag == "li":
                self.line.append("- ")
        elif tag == "br":
            self.flush()

    def handle_endtag(self, tag):
        if tag in ("br", "hr", "img", "meta", "link", "input", "wbr"):
            return
        if self.skip:
            self.skipping -= self.skip.pop()
        if tag == "pre":
            self.pre -= 1
            self.out.extend("".join(self.line).rstrip().split("\n"))
            self.line = []
            self.out.append("")
        elif tag in BLOCK_TAGS:
            self.flush(blank=tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "dl", "table"))
        elif tag in ("td", "th"):
            self.line.append(" ")

    def handle_data(self, data):
        if not self.skipping:
            self.line.append(data)

    def text(self):
        self.flush()
        lines = [ln.rstrip() for ln in self.out]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def kernel_page(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        page = f.read()
    begin = page.find('<div itemprop="articleBody">')
    end = page.find("<footer>", begin)
    if begin < 0:
        return ""
    parser = ArticleText()
    parser.feed(page[begin:end if end > 0 else len(page)])
    parser.close()
    return parser.text()


def kernel_pages():
    if not os.path.isdir(KERNEL_HTML):
        fail(f"{KERNEL_HTML} is missing; run ./scripts/setup.sh")
    skip_dirs = {"_sources", "_static", "_images", "_downloads", "translations"}
    skip_files = {"genindex.html", "search.html", "py-modindex.html", "maintainers.html"}
    pages = []
    for root, dirs, files in os.walk(KERNEL_HTML):
        dirs[:] = sorted(d for d in dirs if d not in skip_dirs)
        pages += [os.path.join(root, f) for f in sorted(files)
                  if f.endswith(".html") and f not in skip_files]
    # Largest first, so the pool's last tasks are small and both cores finish together.
    pages.sort(key=lambda p: -os.path.getsize(p))
    return pages


def kernel_docs(jobs):
    pages = kernel_pages()
    with multiprocessing.Pool(jobs) as pool:
        texts = pool.map(kernel_page, pages, chunksize=8)
    order = sorted(range(len(pages)), key=lambda i: pages[i])
    return [texts[i] for i in order if texts[i]]


# ---- dict-gcide: dictd database -> text ---------------------------------------------------

ENTRY_START = re.compile(r"^(\S[^\\\n]*?) \\[^\\\n]*\\", re.M)
SOURCE_LINE = re.compile(r"^\s*\[(?:\d{4} Webster|WordNet|PJC|Century|Webster|Source|[A-Z]+)"
                         r"[^\]\n]*\]\s*$", re.M)
PRONUNCIATION = re.compile(r" ?\\[^\\\n]*\\")
ACCENTED = re.compile(r" ?\((?:[^()\n]*\[[^\]\n]{1,6}\])+[^()\n]*\)")  # "([.a]*b[a^]n)"


def gcide_docs():
    if not os.path.exists(GCIDE_DICT):
        fail(f"{GCIDE_DICT} is missing; run ./scripts/setup.sh")
    with gzip.open(GCIDE_DICT, "rt", encoding="utf-8", errors="replace") as f:
        data = f.read()
    # The database opens with 00-database-* records and the GPL notice; entries start at the
    # first headword line ("A \A\ ...").
    starts = [m.start() for m in ENTRY_START.finditer(data)]
    groups, current, key = [], [], None
    for i, s in enumerate(starts):
        entry = data[s:starts[i + 1] if i + 1 < len(starts) else len(data)]
        head = ENTRY_START.match(entry).group(1)
        k = re.sub(r"[^a-z]", "", head.lower())[:3]
        if k != key and current:
            groups.append(current)
            current = []
        key = k
        entry = SOURCE_LINE.sub("", entry)
        entry = PRONUNCIATION.sub("", entry, count=1)
        entry = ACCENTED.sub("", entry)
        entry = entry.replace("{", "").replace("}", "")
        # The database wraps lines at 65 columns with indentation; join each paragraph's lines.
        paragraphs = (" ".join(ln.strip() for ln in p.split("\n") if ln.strip())
                      for p in re.split(r"\n\s*\n", entry))
        current.append("\n".join(p for p in paragraphs if p))
    if current:
        groups.append(current)
    return ["\n\n".join(g) for g in groups]


# ---- bible-kjv: the `bible` reader -> text ------------------------------------------------

def kjv_docs():
    try:
        out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        fail("cannot run `bible` (package bible-kjv); run ./scripts/setup.sh")
    books, current, book, chapter = [], [], None, None
    for line in out.stdout.decode("utf-8").splitlines():
        m = re.match(r"^(\d?[A-Za-z]+)(\d+):\d+ (.*)$", line)
        if not m:
            continue
        if m.group(1) != book and current:
            books.append(current)
            current = []
        if (m.group(1), m.group(2)) != (book, chapter) and current:
            current.append("")  # a blank line between chapters
        book, chapter = m.group(1), m.group(2)
        current.append(m.group(3).strip())
    if current:
        books.append(current)
    return ["\n".join(b) for b in books]


# ---- main ---------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="processes for the HTML conversion (default: all cores)")
    args = ap.parse_args()

    versions = {p: package_version(p) for ps in PACKAGES.values() for p in ps}
    os.makedirs(args.outdir, exist_ok=True)
    manifest_path = os.path.join(args.outdir, "corpus.json")
    try:
        with open(manifest_path) as f:
            old = json.load(f)
        if (old.get("converter_version") == CONVERTER_VERSION and old.get("packages") == versions
                and all(os.path.exists(os.path.join(args.outdir, n)) for n in PACKAGES)):
            print(f"prepare_corpus: {args.outdir} is up to date ({old['total_mb']:.1f} MB)")
            return
    except (OSError, ValueError, KeyError):
        pass

    files = {}
    for name, convert in (("kjv.txt", kjv_docs), ("gcide.txt", gcide_docs),
                          ("kernel-docs.txt", lambda: kernel_docs(args.jobs))):
        t0 = time.time()
        docs = convert()
        text = DOC_SEP.join(docs) + "\n"
        write_atomic(os.path.join(args.outdir, name), text)
        size = len(text.encode("utf-8"))
        files[name] = {"packages": PACKAGES[name], "documents": len(docs), "bytes": size}
        print(f"prepare_corpus: {name:16s} {len(docs):6d} documents {size / 1e6:7.1f} MB "
              f"({time.time() - t0:.1f} s)")
    total = sum(f["bytes"] for f in files.values()) / 1e6
    write_atomic(manifest_path, json.dumps({
        "converter_version": CONVERTER_VERSION, "packages": versions, "files": files,
        "total_mb": total}, indent=2) + "\n")
    print(f"prepare_corpus: wrote {total:.1f} MB to {args.outdir}")


if __name__ == "__main__":
    main()
