"""Ingest of Word, PDF, HTML and text policies: the five bundled policies, laid out as Word and
PDF documents by `policy_documents`, come back with the reviewed clause ids, texts and dates."""
from __future__ import annotations

import re

import pytest

from bot.knowledge.dates import find_metadata
from bot.knowledge.documents import read_document
from bot.knowledge.ingest import read_draft

from .policy_documents import SCHOOLS, norm, pdf_available, policy_yaml, write_docx, write_pdf

NUMBERED = re.compile(r"[A-Z]?\.?\d+(?:\.\d+)*(?:\([a-z0-9]+\))?")


def _dash(text: str) -> str:
    return re.sub(r"\s*[-\u2013]\s*", " - ", text or "")


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    out = tmp_path_factory.mktemp("policies")
    made = {}
    for slug in SCHOOLS:
        made[(slug, "docx")] = write_docx(slug, out / f"{slug}.docx")
        if pdf_available():
            made[(slug, "pdf")] = write_pdf(slug, out / f"{slug}.pdf")
    return made


def _score(fmt: str, documents) -> dict:
    """Per measure, the share of the reviewed clauses the draft reproduces."""
    total = exact = numbered = text_only = 0
    for slug in SCHOOLS:
        draft = read_draft(documents[(slug, fmt)])
        by_id = {c.id: norm(c.text) for c in draft.clauses}
        by_text = {}
        for c in draft.clauses:
            by_text.setdefault(norm(c.text), c.id)
        for clause in policy_yaml(slug)["clauses"]:
            total += 1
            text = norm(clause["text"])
            exact += by_id.get(clause["id"]) == text
            text_only += text in by_text
            # An id from the document's own numbering must come out the same; an unnumbered
            # paragraph's id is a name the reviewer chose, so there the draft must also have
            # seen it as unnumbered (and carry the same text).
            if NUMBERED.fullmatch(clause["id"]):
                numbered += by_id.get(clause["id"]) == text
            else:
                numbered += text in by_text and not NUMBERED.fullmatch(by_text[text])
    return {"exact": exact / total, "numbering": numbered / total, "text": text_only / total, "total": total}


def test_docx_clauses_match_the_reviewed_yaml(documents):
    score = _score("docx", documents)
    print(f"docx: {score}")
    assert score["total"] == 330
    assert score["numbering"] >= 0.95 and score["text"] >= 0.98
    assert score["exact"] >= 0.85  # the rest are reviewer-chosen names for unnumbered paragraphs


def test_pdf_clauses_match_the_reviewed_yaml(documents):
    if not pdf_available():
        pytest.skip("fpdf2 or the DejaVu fonts (fonts-dejavu-core) are missing: cannot make the test PDFs")
    score = _score("pdf", documents)
    print(f"pdf: {score}")
    assert score["numbering"] >= 0.95 and score["text"] >= 0.98
    assert score["exact"] >= 0.85


@pytest.mark.parametrize("fmt", ["docx", "pdf", "txt"])
def test_title_and_dates_are_read_for_all_five(fmt, documents):
    if fmt == "pdf" and not pdf_available():
        pytest.skip("cannot make the test PDFs here")
    from .policy_documents import ROOT

    for slug in SCHOOLS:
        path = ROOT / "sources" / f"{slug}.txt" if fmt == "txt" else documents[(slug, fmt)]
        meta = read_draft(path).metadata
        want = policy_yaml(slug)
        assert meta.title == want["title"], slug
        for key in ("adopted", "reviewed", "next_review"):
            assert _dash(getattr(meta, key)) == _dash(want[key]), (slug, key)


def test_skipped_parts_are_reported(documents):
    draft = read_draft(documents[("tsat", "docx")])
    kinds = {s.kind for s in draft.skipped}
    assert {"title block", "table", "header", "footer", "form"} <= kinds
    form_lines = ("Please complete this form and forward it to the Headteacher/Principal", "Social Media Site Creation Approval Form")
    assert not any(c.text.startswith(form_lines) for c in draft.clauses)
    if pdf_available():
        pdf = read_draft(documents[("kingsmead", "pdf")])
        kinds = {s.kind for s in pdf.skipped}
        assert {"page number", "header", "table"} <= kinds, pdf.skipped
        # the page footer the text conversion left mid-section is not in any clause
        assert not any("Author: Deputy Headteacher" in c.text for c in pdf.clauses)


def test_dates_in_the_forms_policies_use():
    meta = find_metadata(["The governing body adopted this Guidance on 20.01.2022",
                          "Next review: Autumn 2026", "Date of Last Review: Term 6 2020/21"])
    assert (meta.adopted, meta.next_review, meta.reviewed) == ("20.01.2022", "Autumn 2026", "Term 6 2020/21")
    meta = find_metadata(["Policy title: Online Safety", "Approved by Governors: 3 March 2024",
                          "The policy is to be reviewed on September 2025"])
    assert (meta.title, meta.adopted, meta.next_review) == ("Online Safety", "3 March 2024", "September 2025")


def test_one_paragraph_per_line_text_and_html(tmp_path):
    lines = ["Social Media Policy", "Adopted on 01.09.2024. Next review: September 2026", "1 INTRODUCTION",
             "1.1 Staff must not befriend pupils.", "1.2 Staff should:", "- keep accounts private",
             "- report concerns", "2 SCOPE", "2.1 This policy applies to all staff."]
    txt = tmp_path / "p.txt"
    txt.write_text("\n".join(lines) + "\n")
    draft = read_draft(txt)
    ids = [c.id for c in draft.clauses]
    assert ids == ["1.1", "1.2", "1.2(a)", "1.2(b)", "2.1"], ids
    assert draft.clauses[-1].section == "2 SCOPE"
    assert (draft.metadata.adopted, draft.metadata.next_review) == ("01.09.2024", "September 2026")
    html = tmp_path / "p.html"
    html.write_text("<html><head><title>x</title></head><body><header>School</header><h1>Social Media Policy</h1>"
                    "<h2>1 INTRODUCTION</h2><p>1.1 Staff must not befriend pupils.</p><p>1.2 Staff should:</p>"
                    "<ul><li>keep accounts private</li><li>report concerns</li></ul>"
                    "<table><tr><td>Signed</td><td></td></tr></table><footer>Page 1</footer></body></html>")
    doc = read_document(html)
    assert {"table", "header", "footer"} <= {s.kind for s in doc.skipped}
    draft = read_draft(html)
    assert [c.id for c in draft.clauses] == ["1.1", "1.2", "1.2(a)", "1.2(b)"]
    assert draft.clauses[2].lead_in == "Staff should:"
