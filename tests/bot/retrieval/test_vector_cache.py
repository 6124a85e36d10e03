"""Clause vectors survive a restart; an edited clause is the only one encoded again."""
from __future__ import annotations

import numpy as np

from bot.retrieval.vector_cache import VectorCache


class CountingEncoder:
    def __init__(self):
        self.seen: list[str] = []

    def __call__(self, texts):
        self.seen.extend(texts)
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_restart_reads_vectors_from_disk(tmp_path):
    enc = CountingEncoder()
    first, fresh = VectorCache(tmp_path, "m1").vectors(["a", "bb", "a"], enc)
    assert fresh == 2 and enc.seen == ["a", "bb"]
    second, fresh = VectorCache(tmp_path, "m1").vectors(["a", "bb"], enc)
    assert fresh == 0 and enc.seen == ["a", "bb"]
    assert np.array_equal(first[:2], second)


def test_edited_text_and_new_model_version_are_encoded_again(tmp_path):
    enc = CountingEncoder()
    VectorCache(tmp_path, "m1").vectors(["one", "two"], enc)
    _, fresh = VectorCache(tmp_path, "m1").vectors(["one", "two, edited"], enc)
    assert fresh == 1 and enc.seen[-1] == "two, edited"
    _, fresh = VectorCache(tmp_path, "m2").vectors(["one"], enc)
    assert fresh == 1


def test_a_damaged_cache_file_is_rebuilt(tmp_path):
    enc = CountingEncoder()
    cache = VectorCache(tmp_path, "m1")
    cache.vectors(["x"], enc)
    cache.path.write_bytes(b"garbage")
    vectors, fresh = VectorCache(tmp_path, "m1").vectors(["x"], enc)
    assert fresh == 1 and vectors.shape == (1, 3)
    assert VectorCache(tmp_path, "m1").vectors(["x"], enc)[1] == 0


def test_table_holds_each_distinct_text_once(tmp_path):
    enc = CountingEncoder()
    matrix, rows, fresh = VectorCache(tmp_path, "m1").table(["a", "bb", "a", "ccc", "bb"], enc)
    assert fresh == 3 and matrix.shape == (3, 3)
    assert rows.tolist() == [0, 1, 0, 2, 1]
    assert [float(v[0]) for v in matrix[rows]] == [1.0, 2.0, 1.0, 3.0, 2.0]
    again, rows, fresh = VectorCache(tmp_path, "m1").table(["ccc", "a"], enc)
    assert fresh == 0 and [float(v[0]) for v in again[rows]] == [3.0, 1.0]


def test_a_seed_is_read_first_and_never_written(tmp_path):
    enc = CountingEncoder()
    donor = VectorCache(tmp_path / "donor", "m1")
    donor.vectors(["a", "bb", "unused"], enc)
    seed = tmp_path / "data" / "m1.npz"
    donor.write_seed(seed, ["a", "bb", "a"])
    seeded = seed.read_bytes()
    enc.seen.clear()

    cache = VectorCache(tmp_path / "fresh", "m1", seed=seed)
    vectors, fresh = cache.vectors(["a", "bb"], enc)
    assert fresh == 0 and enc.seen == [] and [float(v[0]) for v in vectors] == [1.0, 2.0]
    assert not cache.path.exists()  # nothing encoded, nothing to write
    # A text the seed lacks (edited since it was written) is encoded and cached, not seeded.
    _, fresh = cache.vectors(["a", "ccc"], enc)
    assert fresh == 1 and enc.seen == ["ccc"]
    assert cache.path.exists() and seed.read_bytes() == seeded
    # The seed holds only the texts it was written for.
    assert VectorCache(tmp_path / "other", "m1", seed=seed).vectors(["unused"], enc)[1] == 1


def test_a_damaged_seed_is_ignored_with_a_warning(tmp_path, caplog):
    seed = tmp_path / "m1.npz"
    seed.write_bytes(b"not a seed")
    enc = CountingEncoder()
    vectors, fresh = VectorCache(tmp_path / "cache", "m1", seed=seed).vectors(["x"], enc)
    assert fresh == 1 and vectors.shape == (1, 3)
    assert "vector seed" in caplog.text and "unreadable" in caplog.text
