"""llmbook.order_explorer: attention is blind to order until positions are added."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from explorer_checks import check_explorer  # tests/explorer_checks.py

from llmbook.order_explorer import (
    last_token_attention,
    order_change,
    orders,
    permutation_explorer,
    permutation_view,
)
from llmbook.positional import sinusoidal_encoding

TOKENS = ["humpty", "dumpty", "sat", "on"]


def setup(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(4, 8))
    Wq, Wk, Wv = (rng.normal(size=(8, 8)) / np.sqrt(8) for _ in range(3))
    return X, Wq, Wk, Wv


def test_last_token_attention_is_torchs_scaled_dot_product_attention() -> None:
    X, Wq, Wk, Wv = setup()
    u, out = last_token_attention(X, Wq, Wk, Wv)
    q, k, v = (torch.from_numpy(X @ W.T)[None] for W in (Wq, Wk, Wv))
    expected = F.scaled_dot_product_attention(q, k, v)[0, -1].numpy()
    assert np.allclose(out, expected) and np.isclose(u.sum(), 1.0) and (u > 0).all()


def test_orders_keep_the_last_token_last() -> None:
    found = orders(4)
    assert len(found) == 6 and len(set(found)) == 6 and all(o[-1] == 3 for o in found)
    assert found[0] == (0, 1, 2, 3)


def test_shuffling_changes_nothing_without_positions_and_something_with_them() -> None:
    X, Wq, Wk, Wv = setup()
    codes = sinusoidal_encoding(4, 8).double().numpy()
    for order in orders(4):
        assert order_change(X, Wq, Wk, Wv, None, order) < 1e-12
        moved = order_change(X, Wq, Wk, Wv, codes, order)
        assert (moved > 1e-2) == (order != (0, 1, 2, 3))


def test_a_frame_shows_the_weights_and_the_verdict() -> None:
    X, Wq, Wk, Wv = setup()
    codes = sinusoidal_encoding(4, 8).double().numpy()
    same = permutation_view(TOKENS, X, Wq, Wk, Wv, None, (2, 0, 1, 3))
    assert "the same output" in same and same.index("sat") < same.index("humpty")
    changed = permutation_view(TOKENS, X, Wq, Wk, Wv, codes, (2, 0, 1, 3))
    change = order_change(X, Wq, Wk, Wv, codes, (2, 0, 1, 3))
    assert f"largest change {change:.3f}" in changed


def test_permutation_explorer_offers_every_order_and_every_code() -> None:
    X, Wq, Wk, Wv = setup()
    codes = {"none": None, "sine code": sinusoidal_encoding(4, 8).double().numpy()}
    payload = check_explorer(
        permutation_explorer(TOKENS, X, Wq, Wk, Wv, codes), frames=12, max_bytes=100_000
    )
    labels = {c["name"]: c["labels"] for c in payload["controls"]}
    assert labels["order"][0] == "humpty dumpty sat on" and len(labels["order"]) == 6
    assert labels["positions"] == ["none", "sine code"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((TOKENS[:3],), "X must have one row per token"),
        ((TOKENS, np.zeros((4, 8)), np.zeros((8, 5))), "Wq must have shape"),
        ((TOKENS, np.zeros((4, 8)), np.zeros((8, 8)), {"bad": np.zeros((3, 8))}), "codes"),
        ((TOKENS, np.zeros((4, 8)), np.zeros((8, 8)), {}), "at least one choice"),
    ],
)
def test_bad_input_is_refused_before_anything_is_drawn(args, message) -> None:
    X, Wq, Wk, Wv = setup()
    tokens = args[0]
    X = args[1] if len(args) > 1 else X
    Wq = args[2] if len(args) > 2 else Wq
    codes = args[3] if len(args) > 3 else {"none": None}
    with pytest.raises(ValueError, match=message):
        permutation_explorer(tokens, X, Wq, Wk, Wv, codes)
