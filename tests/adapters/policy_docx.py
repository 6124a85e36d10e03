"""A small school policy as a Word file, made by the tests (python-docx): a title page with its
dates, headings, numbered paragraphs and bullets under a lead-in, as schools write them."""
from __future__ import annotations

from pathlib import Path

ST_MARYS = [
    ("heading", "1 Contact with pupils"),
    ("para", "1.1 Staff must not accept friend requests from current pupils on any social network."),
    ("para", "1.2 Staff must not use personal messaging apps to contact pupils or their parents."),
    ("heading", "2 Photographs and video"),
    ("para", "2.1 Staff should only take photographs of pupils on school-owned devices:"),
    ("bullet", "images must be stored on the school network, never on a personal phone;"),
    ("bullet", "images must be deleted from the device once they are uploaded."),
    ("para", "2.2 Photographs of pupils must never be posted on personal social media accounts."),
    ("heading", "3 Livestreaming"),
    ("para", "3.1 Staff must not livestream lessons or school events from a personal account."),
]


def write_policy_docx(path: Path, blocks=ST_MARYS, title: str = "St Mary's Social Media Policy",
                      dates: bool = True) -> Path:
    import docx

    d = docx.Document()
    d.add_paragraph(title, style="Title")
    if dates:
        d.add_paragraph("Adopted by the Governing Body on 20.01.2025")
        d.add_paragraph("Next review: Autumn 2027")
    for kind, text in blocks:
        if kind == "heading":
            d.add_heading(text, level=1)
        elif kind == "bullet":
            d.add_paragraph(text, style="List Bullet")
        else:
            d.add_paragraph(text)
    d.save(str(path))
    return path
