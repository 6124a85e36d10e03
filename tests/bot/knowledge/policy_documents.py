"""Word and PDF versions of the five bundled policies, made the way a school's own file is laid out.

The bundled sources are text converted from each school's published document; the
conversion lost some structure (a heading that was a text box, a paragraph cut at a page
break). The reviewed clause YAML records that structure, so the generator uses it to lay the
document out again: section headings as Word headings (bold and larger in the PDF), the
paragraphs the reviewer kept whole as one paragraph, tab-separated lines as tables, the
reviewer's page footers as page footers, a running header and page numbers on every page.
Clause ids and texts are never written from the YAML: they come from the source text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3] / "knowledge"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
SCHOOLS = ("arh", "kingsmead", "lzw", "thorpe-acre", "tsat")


def norm(text: str) -> str:
    return " ".join(text.replace("**", "").replace("*", "").split())


@dataclass
class Chunk:
    kind: str  # heading, para, bullet, row, title
    text: str
    line: int
    level: int = 1


def policy_yaml(slug: str) -> dict:
    path = next((ROOT / "policies" / slug).glob("*.yaml"))
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def layout(slug: str) -> tuple[list[Chunk], list[str], dict]:
    """The document's body chunks, its page-footer lines, and the reviewed policy."""
    policy = policy_yaml(slug)
    lines = (ROOT / "sources" / f"{slug}.txt").read_text(encoding="utf-8").split("\n")
    footer_lines: set[int] = set()
    for ex in policy.get("excluded") or []:
        a, b = (int(x) for x in ex["lines"].split("-"))
        if "footer" in ex["why"] and "page footer" in ex["why"]:
            footer_lines.update(range(a, b + 1))
    chunks: list[Chunk] = []
    footer: list[str] = []
    current: Chunk | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if not line.strip():
            current = None
            continue
        if number in footer_lines:
            footer.append(line.strip())
            current = None
            continue
        stripped = line.strip()
        if "\t" in stripped:
            chunks.append(Chunk("row", line, number))
            current = None
        elif stripped.startswith("#"):
            chunks.append(Chunk("heading", stripped.lstrip("#").strip(), number))
            current = None
        elif m := re.match(r"^(\s*)([-\u27a4>])\s+", line):
            current = Chunk("bullet", line[m.end():].strip(), number, 2 if m[1] else 1)
            chunks.append(current)
        elif current is not None:
            current.text += " " + stripped
        else:
            current = Chunk("para", stripped, number)
            chunks.append(current)
    texts = [norm(c.get("text", "")) for c in policy["clauses"]] + \
            [norm(c.get("lead_in", "")) for c in policy["clauses"] if c.get("lead_in")]
    # Paragraphs the conversion cut in two (at a page break) are one paragraph in the document.
    merged: list[Chunk] = []
    for chunk in chunks:
        prev = merged[-1] if merged else None
        if prev is not None and chunk.kind == "para" and prev.kind in ("para", "bullet"):
            joined = norm(re.sub(r"^(?:[A-Z]\.?\s?)?\d+(?:\.\d+)*\.?\s+", "", prev.text) + " " + chunk.text)
            if any(joined in t for t in texts if t):
                prev.text += " " + chunk.text
                continue
        merged.append(chunk)
    chunks = merged
    sections = {norm(c["section"]).rstrip(":") for c in policy["clauses"]}
    for chunk in chunks:
        if chunk.kind in ("para", "heading") and norm(chunk.text).rstrip(":") in sections:
            chunk.kind = "heading"
            chunk.level = 1 if re.match(r"^(\d+(\.0)?\.?\s|APPENDIX)", norm(chunk.text), re.I) else 2
        elif chunk.kind == "heading":
            chunk.level = 1
        if norm(chunk.text) == norm(policy["title"]) and chunk.kind == "para" and not any(
                c.kind == "title" for c in chunks):
            chunk.kind = "title"
    # Headings the conversion lost (a text box, an image) come back before their first clause.
    out: list[Chunk] = []
    section, pointer = None, 0
    headed = {norm(c.text).rstrip(":") for c in chunks if c.kind == "heading"}
    inserted_before: dict[int, str] = {}
    for clause in policy["clauses"]:
        target = norm(clause.get("lead_in") or clause["text"])[:50]
        for i in range(pointer, len(chunks)):
            if target and target in norm(chunks[i].text):
                pointer = i
                break
        name = norm(clause["section"]).rstrip(":")
        if name != section and name not in headed and pointer not in inserted_before:
            inserted_before[pointer] = clause["section"]
            headed.add(name)
        section = name
    for i, chunk in enumerate(chunks):
        if i in inserted_before:
            out.append(Chunk("heading", inserted_before[i], chunk.line, 2))
        out.append(chunk)
    return out, footer, policy


def _runs(text: str) -> list[tuple[str, bool, bool]]:
    """'**bold** and *italic*' -> [(text, bold, italic)]."""
    parts = []
    for m in re.finditer(r"\*\*(.+?)\*\*|\*(.+?)\*|([^*]+|\*)", text):
        if m[1]:
            parts.append((m[1], True, False))
        elif m[2]:
            parts.append((m[2], False, True))
        else:
            parts.append((m[3], False, False))
    return parts


def write_docx(slug: str, path: Path) -> Path:
    import docx

    chunks, footer, policy = layout(slug)
    document = docx.Document()
    section = document.sections[0]
    section.header.paragraphs[0].text = f"{policy['title']}"
    section.footer.paragraphs[0].text = " ".join(footer) + " Page 1" if footer else "Page 1"
    table_rows: list[list[str]] = []

    def flush_table():
        if not table_rows:
            return
        width = max(len(r) for r in table_rows)
        table = document.add_table(rows=0, cols=width)
        for row in table_rows:
            cells = table.add_row().cells
            for j, value in enumerate(row):
                cells[j].text = value
        table_rows.clear()

    for chunk in chunks:
        if chunk.kind == "row":
            table_rows.append([c.strip() for c in chunk.text.split("\t") if c.strip()] or [""])
            continue
        flush_table()
        if chunk.kind == "heading":
            document.add_heading(norm(chunk.text), level=chunk.level)
        elif chunk.kind == "title":
            document.add_paragraph(norm(chunk.text), style="Title")
        else:
            style = ("List Bullet" if chunk.level == 1 else "List Bullet 2") if chunk.kind == "bullet" else None
            paragraph = document.add_paragraph(style=style)
            for text, bold, italic in _runs(chunk.text):
                run = paragraph.add_run(text)
                run.bold, run.italic = bold or None, italic or None
    flush_table()
    document.save(str(path))
    return path


def pdf_available() -> bool:
    try:
        import fpdf  # noqa: F401
    except ImportError:
        return False
    return (FONT_DIR / "DejaVuSans.ttf").exists() and (FONT_DIR / "DejaVuSans-Bold.ttf").exists()


def write_pdf(slug: str, path: Path) -> Path:
    from fpdf import FPDF

    chunks, footer, policy = layout(slug)

    class PolicyPDF(FPDF):
        def header(self):
            self.set_font("dejavu", "", 8)
            self.set_y(8)
            self.cell(0, 4, policy["title"], align="R")
            self.set_y(22)

        def footer(self):
            self.set_font("dejavu", "", 8)
            self.set_y(-14)
            for line in footer:
                self.cell(0, 3.5, line, align="L", new_x="LMARGIN", new_y="NEXT")
            self.cell(0, 3.5, f"Page {self.page_no()}", align="C")

    pdf = PolicyPDF(format="A4")
    pdf.add_font("dejavu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("dejavu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_margins(20, 22, 20)
    pdf.set_auto_page_break(True, margin=24)
    pdf.add_page()
    width = pdf.w - 40
    for chunk in chunks:
        text = norm(chunk.text)
        if chunk.kind == "row":
            cells = [c.strip() for c in chunk.text.split("\t") if c.strip()]
            pdf.set_font("dejavu", "", 8)
            col = width / max(1, len(cells))
            y = pdf.get_y()
            for j, cell in enumerate(cells):
                cell = norm(cell)
                while cell and pdf.get_string_width(cell) > col - 12:
                    cell = cell[:-1]
                pdf.set_xy(20 + j * col, y)
                pdf.cell(col, 5, cell)
            pdf.set_xy(20, y + 6)
            continue
        if chunk.kind in ("heading", "title"):
            size = 16 if chunk.kind == "title" else 14 if chunk.level == 1 else 12
            pdf.set_font("dejavu", "B", size)
            pdf.ln(2)
            pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2.5)
            continue
        pdf.set_font("dejavu", "", 10)
        if chunk.kind == "bullet":
            indent = 6 if chunk.level == 1 else 14
            pdf.set_x(20 + indent)
            pdf.multi_cell(width - indent, 5, "\u2022 " + text, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.output(str(path))
    return path
