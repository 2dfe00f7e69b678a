"""llmbook.embedding: lookup tables, one-hot vectors and PCA, against torch and brute force."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbook import chars, embedding, nextchar


@pytest.fixture
def toy() -> np.ndarray:
    """The article's toy: vectors of 10 numbers for a-z and space, one column each."""
    return np.random.default_rng(0).normal(size=(10, 27))


def test_humpty_dumpt_is_12_columns_and_120_inputs(toy):
    ids = np.array(chars.encode("humpty dumpt")) - 1  # code k is column k - 1
    vectors = embedding.lookup(toy, ids)
    assert vectors.shape == (12, 10)
    flat = embedding.window_input(toy, ids)
    assert flat.shape == (120,)
    np.testing.assert_array_equal(flat[:10], toy[:, chars.CODE["h"] - 1])  # first 10: "h"
    np.testing.assert_array_equal(flat[-10:], toy[:, chars.CODE["t"] - 1])  # last 10: "t"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 26), min_size=1, max_size=20))
def test_lookup_equals_matrix_times_one_hot(ids):
    toy = np.random.default_rng(1).normal(size=(10, 27))
    by_product = (toy @ embedding.one_hot(ids, 27).T).T  # (E, V) @ (V, T) -> (E, T) -> (T, E)
    np.testing.assert_allclose(embedding.lookup(toy, ids), by_product, atol=1e-12)


def test_lookup_equals_torch_nn_embedding(toy):
    table = torch.nn.Embedding(27, 10, dtype=torch.float64)
    with torch.no_grad():
        table.weight.copy_(torch.from_numpy(toy.T))  # torch keeps one row per character
    ids = [7, 20, 12, 15, 19, 24, 26]
    expected = table(torch.tensor(ids)).detach().numpy()
    np.testing.assert_array_equal(embedding.lookup(toy, ids), expected)
    one_hot = torch.nn.functional.one_hot(torch.tensor(ids), 27).double()
    np.testing.assert_allclose(embedding.one_hot(ids, 27), one_hot.numpy())


def test_window_input_equals_the_models_input_layer():
    model = nextchar.NextCharMLP(context=12, hidden=8, embedding=10, seed=2)
    codes = chars.encode("humpty dumpt")
    matrix = model.embedding.weight.detach().double().numpy().T  # (E, V) as in the article
    expected = model.inputs(torch.tensor([codes]))[0].detach().double().numpy()
    np.testing.assert_allclose(embedding.window_input(matrix, np.array(codes) - 1), expected)


def test_pca_matches_svd_and_torch_pca_lowrank():
    vectors = np.random.default_rng(3).normal(size=(28, 10)) * np.linspace(3, 0.5, 10)
    coords, directions, share = embedding.pca(vectors, k=2)
    centred = vectors - vectors.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    for j in range(2):  # the same directions, up to sign
        assert abs(abs(directions[j] @ vt[j]) - 1) < 1e-10
    np.testing.assert_allclose(np.abs(coords), np.abs(centred @ vt[:2].T), atol=1e-10)
    np.testing.assert_allclose(share, (s**2 / (s**2).sum())[:2])
    # q = all 10 dimensions, so the randomized method is exact; keep its first two
    u, s_t, v = torch.pca_lowrank(torch.from_numpy(vectors), q=10, center=True)
    np.testing.assert_allclose(np.abs(coords), np.abs((u * s_t)[:, :2].numpy()), atol=1e-8)
    np.testing.assert_allclose(np.abs(directions), np.abs(v[:, :2].T.numpy()), atol=1e-8)


def test_pca_directions_are_orthonormal_with_fixed_sign():
    vectors = np.random.default_rng(4).normal(size=(30, 5))
    _, directions, share = embedding.pca(vectors, k=3)
    np.testing.assert_allclose(directions @ directions.T, np.eye(3), atol=1e-12)
    largest = np.abs(directions).argmax(axis=1)
    assert (directions[np.arange(3), largest] > 0).all()
    assert share[0] >= share[1] >= share[2] > 0
    assert embedding.pca(-vectors, k=3)[1] == pytest.approx(directions)  # sign is fixed


def test_one_hot_and_lookup_refuse_bad_ids(toy):
    with pytest.raises(ValueError, match="id 27 at position 1 is outside the vocabulary"):
        embedding.lookup(toy, [0, 27])
    with pytest.raises(ValueError, match="id -1"):
        embedding.one_hot([-1], 27)
    with pytest.raises(TypeError, match=r"id at position 0 must be an integer, got 1\.5"):
        embedding.lookup(toy, [1.5])
    with pytest.raises(TypeError, match="sequence of integers"):
        embedding.lookup(toy, "abc")
    with pytest.raises(TypeError, match="must be an integer, got True"):
        embedding.one_hot([True], 27)
    with pytest.raises(ValueError, match="vocab_size must be a positive integer"):
        embedding.one_hot([0], 0)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"must be 2-D \(C, V\), got shape \(27,\)"):
        embedding.lookup(np.zeros(27), [0])
    with pytest.raises(ValueError, match="at least 2 vectors"):
        embedding.pca(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="k must be an integer from 1 to 3, got 4"):
        embedding.pca(np.zeros((5, 3)), k=4)


def test_embedding_std_sets_the_starting_spread():
    wide = nextchar.NextCharMLP(embedding=10, seed=0)
    narrow = nextchar.NextCharMLP(embedding=10, seed=0, embedding_std=0.1)
    torch.testing.assert_close(narrow.embedding.weight, wide.embedding.weight * 0.1)
    torch.testing.assert_close(narrow.hidden.weight, wide.hidden.weight)  # the rest unchanged
    with pytest.raises(ValueError, match="embedding_std must be positive, got 0"):
        nextchar.NextCharMLP(embedding=10, embedding_std=0)
    with pytest.raises(TypeError, match="embedding_std must be a number"):
        nextchar.NextCharMLP(embedding=10, embedding_std="0.1")
