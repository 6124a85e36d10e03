"""A policy document (.docx, .pdf, .html, .txt, .md) read into text blocks for `policybot ingest`.

Each reader gives the same thing: the body as headings, paragraphs and bullets in reading
order, and a list of what it left out (tables, page headers and footers, page numbers),
each with where it was, so the reviewer can check nothing that matters was dropped. The
left-out text is still offered to the metadata reader (`dates.find_metadata`), because
policies often state their adoption and review dates in a table on the title page.

`to_text` renders the blocks as the plain text `ingest.parse` reads (headings as `#`,
bullets as `-`, a blank line between blocks); that text is also what the draft's
`source:` file holds, so every clause can be checked verbatim against it.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

SUFFIXES = (".docx", ".pdf", ".html", ".htm", ".txt", ".md")

_PAGE_NUMBER = re.compile(r"^(?:page\s*)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$", re.I)
_BULLET_GLYPH = re.compile(r"^\s*([\u2022\u25cf\u25aa\u2023\u27a4\u2013\-\u00b7o\uf0b7\uf0a7>])\s+")
_TERMINAL = re.compile(r"[.;:!?)\"'\u201d\u2019]\s*$")


class DocumentError(Exception):
    """The file cannot be read as a policy document (the message says why, in plain words)."""


@dataclass
class TextBlock:
    kind: str  # "heading", "para" or "bullet"
    text: str
    level: int = 1  # heading level, or bullet nesting level
    where: str = ""


@dataclass
class Skipped:
    kind: str  # "table", "header", "footer", "page number", "title block", "form"
    where: str
    text: str
    after: int = -1  # how many body blocks come before it (-1: not in the body's flow)

    def __str__(self) -> str:
        preview = " ".join(self.text.split())
        return f"{self.where}: {self.kind}: {preview[:90]}{'...' if len(preview) > 90 else ''}"


@dataclass
class Document:
    blocks: list[TextBlock]
    skipped: list[Skipped] = field(default_factory=list)
    # Every line of text in reading order, the skipped ones too (table rows as "cell cell"),
    # for reading the title and dates.
    meta_lines: list[str] = field(default_factory=list)
    title_style: str = ""  # a paragraph the author styled as the document's Title


def read_document(path: Path) -> Document:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DocumentError(f"{path.name}: cannot read {suffix or 'files without an extension'}; "
                            f"save the policy as Word (.docx), PDF, HTML, plain text or markdown")
    if not path.is_file():
        raise DocumentError(f"cannot read {path}: no such file")
    if suffix == ".docx":
        return read_docx(path)
    if suffix == ".pdf":
        return read_pdf(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raw = path.read_text(encoding="cp1252", errors="replace")
    if suffix in (".html", ".htm"):
        return read_html(raw)
    return read_text(raw)


# ---------------------------------------------------------------- plain text and markdown

_MD_BULLET = re.compile(r"^(\s*)(?:[-*+\u2022\u27a4>])\s+")


def read_text(raw: str) -> Document:
    """Text or markdown. Paragraphs are separated by blank lines; a file with (almost) no blank
    lines, as Word's "save as plain text" writes it, has one paragraph per line."""
    lines = [ln.rstrip() for ln in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    filled = [ln for ln in lines if ln.strip()]
    one_per_line = len(filled) >= 6 and (len(lines) - len(filled)) < 0.2 * len(filled)
    blocks: list[TextBlock] = []
    skipped: list[Skipped] = []
    meta: list[str] = []
    current: TextBlock | None = None
    table: Skipped | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            current = table = None
            continue
        where = f"line {number}"
        if "\t" in line.strip():
            # Tab-separated cells: a table row as Word or a PDF converter writes it as text.
            row = " ".join(" ".join(cell.split()) for cell in line.split("\t") if cell.strip())
            meta.append(row)
            if table is None:
                table = Skipped("table", f"lines {number}-{number}", row, len(blocks))
                skipped.append(table)
            else:
                table.where = re.sub(r"-\d+$", f"-{number}", table.where)
                table.text += " | " + row
            current = None
            continue
        table = None
        stripped = line.strip()
        if stripped.startswith("#"):
            level = len(stripped) - len(stripped.lstrip("#"))
            blocks.append(TextBlock("heading", _strip_md(stripped.lstrip("#")), min(level, 6), where))
            meta.append(blocks[-1].text)
            current = None
            continue
        if m := _MD_BULLET.match(line):
            current = TextBlock("bullet", _strip_md(line[m.end():]), 2 if len(m[1]) else 1, where)
            blocks.append(current)
            meta.append(current.text)
            continue
        if current is None or one_per_line:
            current = TextBlock("para", _strip_md(stripped), 1, where)
            blocks.append(current)
        else:
            current.text += " " + _strip_md(stripped)
            meta[-1] = current.text
            continue
        meta.append(current.text if current else stripped)
    return Document(blocks, skipped, meta)


def _strip_md(text: str) -> str:
    return text.replace("**", "").strip()


# ---------------------------------------------------------------- HTML


class _HTMLBlocks(HTMLParser):
    _SKIP = {"script", "style", "head", "nav", "header", "footer"}
    _BLOCK = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "tr", "blockquote", "section",
              "article", "main", "body", "ul", "ol", "table", "br"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[TextBlock] = []
        self.skipped: list[Skipped] = []
        self.meta: list[str] = []
        self._skip_depth = 0
        self._skip_tag = ""
        self._table_depth = 0
        self._list_depth = 0
        self._buf: list[str] = []
        self._kind, self._level = "para", 1
        self._table_rows: list[str] = []
        self._row: list[str] = []
        self._tables = 0

    def _flush(self) -> None:
        text = " ".join("".join(self._buf).split())
        self._buf = []
        if not text:
            return
        if self._table_depth:
            self._row.append(text)
            return
        self.blocks.append(TextBlock(self._kind, text, self._level, f"block {len(self.blocks) + 1}"))
        self.meta.append(text)

    def handle_starttag(self, tag, attrs):
        if self._skip_depth:
            self._skip_depth += tag == self._skip_tag
            return
        if tag in self._SKIP:
            self._flush()
            self._skip_depth, self._skip_tag = 1, tag
            self._buf = []
            return
        if tag in self._BLOCK:
            self._flush()
        if tag == "table":
            self._table_depth += 1
        elif tag in ("ul", "ol"):
            self._list_depth += 1
        elif tag == "li":
            self._kind, self._level = "bullet", max(1, self._list_depth)
        elif re.fullmatch(r"h[1-6]", tag):
            self._kind, self._level = "heading", int(tag[1])
        elif tag == "tr":
            self._row = []

    def handle_endtag(self, tag):
        if self._skip_depth:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if not self._skip_depth:
                    self.skipped.append(Skipped("header" if tag == "header" else "footer" if tag == "footer" else tag,
                                                f"after block {len(self.blocks)}", ""))
            return
        if tag in self._BLOCK:
            self._flush()
        if tag == "tr" and self._table_depth:
            if self._row:
                self._table_rows.append(" ".join(self._row))
                self.meta.append(" ".join(self._row))
            self._row = []
        elif tag == "table" and self._table_depth:
            self._table_depth -= 1
            if not self._table_depth:
                self._tables += 1
                self.skipped.append(Skipped("table", f"table {self._tables} (after block {len(self.blocks)})",
                                            " | ".join(self._table_rows), len(self.blocks)))
                self._table_rows = []
        elif tag in ("ul", "ol"):
            self._list_depth = max(0, self._list_depth - 1)
        if tag in ("li",) or re.fullmatch(r"h[1-6]", tag) or tag == "p":
            self._kind, self._level = "para", 1

    def handle_data(self, data):
        if not self._skip_depth:
            self._buf.append(data)


def read_html(raw: str) -> Document:
    parser = _HTMLBlocks()
    parser.feed(raw)
    parser.close()
    parser._flush()
    return Document(parser.blocks, parser.skipped, parser.meta)


# ---------------------------------------------------------------- Word (.docx)


# A .docx is a zip; one that unpacks to more than this is refused before it is unpacked (a
# policy's document.xml is a few hundred kB; a "zip bomb" upload would be gigabytes).
MAX_DOCX_UNPACKED = 200 * 1024 * 1024


def _check_zip(path: Path) -> None:
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocumentError(f"{path.name} is not a Word .docx file that can be opened ({exc.__class__.__name__}); "
                            "an old .doc must be saved as .docx first") from exc
    if unpacked > MAX_DOCX_UNPACKED:
        raise DocumentError(f"{path.name} unpacks to {unpacked // (1024 * 1024):,} MB, more than a policy "
                            f"document could need ({MAX_DOCX_UNPACKED // (1024 * 1024)} MB); it was not read")


def read_docx(path: Path) -> Document:
    try:
        import docx
        from docx.table import Table
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise DocumentError("reading Word files needs python-docx (pip install python-docx)") from exc
    _check_zip(path)
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises several kinds for a file that is not a .docx
        raise DocumentError(f"{path.name} is not a Word .docx file that can be opened ({exc.__class__.__name__}); "
                            "an old .doc must be saved as .docx first") from exc
    blocks: list[TextBlock] = []
    skipped: list[Skipped] = []
    meta: list[str] = []
    title_style = ""
    paragraphs = tables = 0
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            tables += 1
            rows = []
            for row in item.rows:
                cells: list[str] = []
                for cell in row.cells:
                    text = " ".join(cell.text.split())
                    if text and (not cells or cells[-1] != text):  # merged cells repeat their text
                        cells.append(text)
                if cells:
                    rows.append(" ".join(cells))
            meta.extend(rows)
            skipped.append(Skipped("table", f"table {tables} (after paragraph {paragraphs})", " | ".join(rows),
                                   len(blocks)))
            continue
        paragraphs += 1
        text = " ".join(item.text.split())
        if not text:
            continue
        meta.append(text)
        style = (item.style.name if item.style is not None else "") or ""
        where = f"paragraph {paragraphs}"
        if style == "Title":
            title_style = title_style or text
            blocks.append(TextBlock("para", text, 1, where))
        elif m := re.match(r"Heading (\d)", style):
            blocks.append(TextBlock("heading", text, int(m[1]), where))
        elif style.startswith("List") or _has_numbering(item):
            m = re.search(r"(\d)$", style)
            blocks.append(TextBlock("bullet", _BULLET_GLYPH.sub("", text), int(m[1]) if m else 1, where))
        elif _all_bold(item) and len(text.split()) <= 12 and not text.endswith("."):
            blocks.append(TextBlock("heading", text, 3, where))
        elif g := _BULLET_GLYPH.match(text):
            blocks.append(TextBlock("bullet", text[g.end():], 1, where))
        else:
            blocks.append(TextBlock("para", text, 1, where))
    seen: set[tuple[str, str]] = set()
    for number, section in enumerate(document.sections, start=1):
        for kind, part in (("header", section.header), ("footer", section.footer)):
            if part.is_linked_to_previous and number > 1:
                continue
            text = " | ".join(" ".join(p.text.split()) for p in part.paragraphs if p.text.strip())
            if text and (kind, text) not in seen:
                seen.add((kind, text))
                meta.append(text)
                skipped.append(Skipped(kind, f"section {number} page {kind}", text))
    return Document(blocks, skipped, meta, title_style)


def _has_numbering(paragraph) -> bool:
    ppr = paragraph._p.pPr
    return ppr is not None and ppr.numPr is not None


def _all_bold(paragraph) -> bool:
    runs = [r for r in paragraph.runs if r.text.strip()]
    return bool(runs) and all(r.bold for r in runs)


# ---------------------------------------------------------------- PDF


@dataclass
class _Line:
    page: int
    x: float
    y: float
    size: float
    bold: bool
    parts: list[tuple[float, str]]

    @property
    def text(self) -> str:
        return " ".join(" ".join(t for _, t in sorted(self.parts)).split())


def read_pdf(path: Path) -> Document:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise DocumentError("reading PDF files needs pypdf (pip install pypdf)") from exc
    try:
        reader = PdfReader(str(path))
        pages = list(reader.pages)
    except (PdfReadError, OSError, ValueError) as exc:
        raise DocumentError(f"{path.name} is not a PDF that can be opened ({exc})") from exc
    lines: list[_Line] = []
    heights = []
    for number, page in enumerate(pages, start=1):
        heights.append(float(page.mediabox.height))
        fragments: list[tuple[float, float, float, bool, str]] = []

        def visit(text, cm, tm, font, size, fragments=fragments):
            if not text or not text.strip():
                return
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            scale = abs(tm[3] * cm[3]) or 1.0
            name = str((font or {}).get("/BaseFont", "")) if hasattr(font, "get") else ""
            for piece in text.split("\n"):
                if piece.strip():
                    fragments.append((x, y, float(size) * scale, "bold" in name.lower(), piece))

        page.extract_text(visitor_text=visit)
        by_row: dict[int, _Line] = {}
        for x, y, size, bold, text in fragments:
            key = round(y / 2)
            line = by_row.get(key)
            if line is None:
                by_row[key] = _Line(number, x, y, size, bold, [(x, text)])
            else:
                line.parts.append((x, text))
                line.x = min(line.x, x)
                line.size = max(line.size, size)
                line.bold = line.bold and bold
        lines.extend(sorted(by_row.values(), key=lambda ln: -ln.y))
    if not any(ln.text for ln in lines):
        raise DocumentError(f"{path.name} has no text layer (a scanned PDF?): run it through OCR, or use the "
                            "Word original")
    return _pdf_blocks(lines, heights)


def _pdf_blocks(lines: list[_Line], heights: list[float]) -> Document:
    skipped: list[Skipped] = []
    pages = max((ln.page for ln in lines), default=0)
    # Running headers and footers: the same text (digits aside) near the top or bottom of
    # several pages. Page numbers: a bare number, "Page 3", "3 of 10".
    def band(ln: _Line) -> str:
        h = heights[ln.page - 1]
        return "top" if ln.y > h - 72 else "bottom" if ln.y < 72 else ""

    repeated = Counter((band(ln), re.sub(r"\d+", "#", ln.text)) for ln in lines if band(ln))
    body: list[_Line] = []
    meta: list[str] = []
    for ln in lines:
        meta.append(ln.text)
        b = band(ln)
        if b and _PAGE_NUMBER.match(ln.text):
            skipped.append(Skipped("page number", f"page {ln.page}", ln.text))
        elif b and pages > 1 and repeated[(b, re.sub(r"\d+", "#", ln.text))] >= max(2, pages // 2):
            skipped.append(Skipped("header" if b == "top" else "footer", f"page {ln.page}", ln.text))
        else:
            body.append(ln)
    # Report each running header / footer once, not once per page.
    dedup, seen = [], set()
    for s in skipped:
        key = (s.kind, re.sub(r"\d+", "#", s.text)) if s.kind in ("header", "footer") else id(s)
        if key not in seen:
            seen.add(key)
            dedup.append(s)
    skipped = dedup
    sizes = Counter(round(ln.size) for ln in body)
    body_size = sizes.most_common(1)[0][0] if sizes else 11
    left = Counter(round(ln.x) for ln in body if round(ln.size) == body_size)
    margin = min((x for x, n in left.items() if n >= 3), default=min(left, default=0))
    blocks: list[TextBlock] = []
    prev: _Line | None = None
    table_line: _Line | None = None
    current: TextBlock | None = None
    table: Skipped | None = None
    for ln in body:
        text = ln.text
        if len(ln.parts) > 1 and _is_table_row(ln):
            row = " | ".join(t for _, t in sorted(ln.parts))
            if table is not None and prev is not None and prev.page == ln.page and prev is table_line:
                table.text += " || " + row
            else:
                table = Skipped("table", f"page {ln.page}", row, len(blocks))
                skipped.append(table)
            prev = table_line = ln
            current = None
            continue
        table_line = None
        heading = ln.bold and len(text.split()) <= 16 and not text.endswith(".")
        glyph = _BULLET_GLYPH.match(text)
        gap = (prev.y - ln.y) if prev is not None and prev.page == ln.page else None
        new_page = prev is not None and prev.page != ln.page
        spacing = ln.size * 1.25
        if heading:
            level = 1 if ln.size >= body_size + 3 else 2 if ln.size > body_size else 3
            # A heading wrapped onto the next line, or onto the next page (a heading line never
            # starts in lower case: "... contributors and" / "moderators of content").
            wrapped = (gap is not None and gap <= spacing * 1.3) or (new_page and text[:1].islower())
            if current is not None and current.kind == "heading" and wrapped and ln.size == prev.size:
                current.text += " " + text
            else:
                current = TextBlock("heading", text, level, f"page {ln.page}")
                blocks.append(current)
        elif glyph:
            level = 2 if ln.x > margin + 20 else 1
            current = TextBlock("bullet", text[glyph.end():], level, f"page {ln.page}")
            blocks.append(current)
        elif current is not None and current.kind != "heading" and (
                (gap is not None and gap <= spacing * 1.3)
                or (new_page and not _TERMINAL.search(current.text))):
            current.text += " " + text
        else:
            current = TextBlock("para", text, 1, f"page {ln.page}")
            blocks.append(current)
        prev = ln
    for block in blocks:
        block.text = " ".join(block.text.split())
    return Document(blocks, skipped, meta)


def _is_table_row(line: _Line) -> bool:
    """Cells of a table row come as separate pieces far apart on one baseline."""
    parts = sorted(line.parts)
    for (x1, t1), (x2, _) in zip(parts, parts[1:]):
        if x2 - x1 > len(t1) * line.size * 0.62 + 12:
            return True
    return False


# ---------------------------------------------------------------- to the parser's text


def to_text(document: Document) -> tuple[str, list[int]]:
    """The blocks as the text `ingest.parse` reads, and the line each block starts on."""
    out: list[str] = []
    starts: list[int] = []
    for block in document.blocks:
        starts.append(len(out) + 1)
        if block.kind == "heading":
            out.append("#" * max(1, min(block.level, 6)) + " " + block.text)
        elif block.kind == "bullet":
            out.append(("  " * (block.level - 1)) + "- " + block.text)
        else:
            out.append(block.text)
        out.append("")
    return "\n".join(out), starts
