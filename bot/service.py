"""Builds the core from settings: knowledge base, retriever, calibration, bot. One place, so
the CLI, the server and the tests assemble the same thing."""
from __future__ import annotations

from .answer import PolicyBot
from .calibration import Calibration
from .config import Settings
from .knowledge import load_knowledge
from .retrieval import BM25Retriever

CALIBRATION_FILE = "calibration.yaml"


def build_bot(settings: Settings) -> PolicyBot:
    kb = load_knowledge(settings.knowledge_dir)
    calibration = Calibration.load(settings.knowledge_dir / CALIBRATION_FILE)
    return PolicyBot(kb, BM25Retriever(kb), settings, calibration)
