"""Dropout: the article's dropped connections and inverted dropout, against nn.Dropout."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from explorer_checks import check_explorer  # tests/explorer_checks.py
from torch import nn

from llmbook import network
from llmbook.dropout import (
    DropConnectLinear,
    InvertedDropout,
    drop_connect,
    half_weight_output,
    inverted_dropout,
    keep_mask,
    leaf_mask_outputs,
    mask_average_explorer,
)

W1 = torch.tensor(network.W1)
W2 = torch.tensor(network.W2)
LEAF = torch.tensor(network.LEAF)


def all_masks(shape: tuple[int, ...]) -> list[torch.Tensor]:
    n = torch.Size(shape).numel()
    return [
        torch.tensor(bits).reshape(shape) for bits in itertools.product([False, True], repeat=n)
    ]


def test_article_dropout_averages_to_the_half_weight_network_exactly() -> None:
    # all 2^12 masks of the input->middle weights, each equally likely at p = 0.5
    outs = torch.stack([W2 @ (drop_connect(W1, 0.5, mask=m) @ LEAF) for m in all_masks((3, 4))])
    inference = W2 @ (drop_connect(W1, 0.5, training=False) @ LEAF)
    torch.testing.assert_close(outs.mean(0), inference)
    torch.testing.assert_close(
        inference, 0.5 * torch.tensor([0.796, 0.251], dtype=torch.float64), atol=5e-4, rtol=0
    )


def test_inverted_dropout_averages_to_the_full_network_exactly() -> None:
    hidden = W1 @ LEAF
    outs = torch.stack([W2 @ inverted_dropout(hidden, 0.5, mask=m) for m in all_masks((3,))])
    torch.testing.assert_close(outs.mean(0), W2 @ hidden)
    assert torch.equal(inverted_dropout(hidden, 0.5, training=False), hidden)


def test_sampled_masks_agree_within_four_standard_errors() -> None:
    g = torch.Generator().manual_seed(0)
    outs = torch.stack([W2 @ (drop_connect(W1, 0.5, generator=g) @ LEAF) for _ in range(4000)])
    se = outs.std(0) / len(outs) ** 0.5
    expected = W2 @ (0.5 * W1 @ LEAF)
    assert ((outs.mean(0) - expected).abs() < 4 * se).all()


def test_our_inverted_dropout_is_nn_dropout() -> None:
    torch.manual_seed(0)
    x = torch.randn(1000, 8) + 3.0  # no exact zeros
    layer = nn.Dropout(0.3)
    y = layer(x)
    kept = y != 0
    torch.testing.assert_close(inverted_dropout(x, 0.3, mask=kept), y)
    assert kept.float().mean().item() == pytest.approx(0.7, abs=4 * (0.7 * 0.3 / 8000) ** 0.5)
    layer.eval()
    assert torch.equal(layer(x), x)
    ours = InvertedDropout(0.3).eval()
    assert torch.equal(ours(x), x)
    torch.manual_seed(1)
    expected = nn.Dropout(0.3)(x)
    torch.manual_seed(1)
    kept_ours = keep_mask(x.shape, 0.3)
    assert (kept_ours.float().mean() - (expected != 0).float().mean()).abs() < 0.03


def test_train_mode_output_is_zero_or_scaled_by_one_over_keep() -> None:
    torch.manual_seed(0)
    x = torch.rand(500) + 1.0
    y = InvertedDropout(0.25).train()(x)
    scaled = torch.isclose(y, x / 0.75)
    assert ((y == 0) | scaled).all() and scaled.any() and (y == 0).any()


def test_drop_connect_linear_modes() -> None:
    torch.manual_seed(0)
    layer = DropConnectLinear(4, 3, p=0.5)
    x = torch.randn(2, 4)
    layer.eval()
    torch.testing.assert_close(layer(x), x @ (0.5 * layer.weight).T + layer.bias)
    layer.train()
    torch.manual_seed(5)
    y = layer(x)
    torch.manual_seed(5)
    mask = keep_mask(layer.weight.shape, 0.5)
    torch.testing.assert_close(y, x @ (layer.weight * mask).T + layer.bias)


def test_bad_rates_and_masks_are_named() -> None:
    for p in (1.0, -0.1, True, "0.5"):
        with pytest.raises(ValueError, match="dropout rate p must be a number in"):
            inverted_dropout(torch.ones(2), p)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"mask must have the shape of its tensor \(3, 4\)"):
        drop_connect(W1, 0.5, mask=torch.ones(4, 3, dtype=torch.bool))
    assert torch.equal(inverted_dropout(torch.ones(3), 0.0), torch.ones(3))


def test_mask_outputs_are_the_masked_network_and_average_to_the_half_weight_one() -> None:
    outputs = leaf_mask_outputs(20_000, seed=5)
    assert outputs.shape == (20_000, 2)
    masks = np.random.default_rng(5).random((3, 3, 4)) >= 0.5  # the first three masks
    for mask, out in zip(masks, outputs[:3], strict=True):
        assert np.allclose(network.forward(network.LEAF, network.W1 * mask)[1], out)
    assert np.allclose(leaf_mask_outputs(10, seed=5), outputs[:10])  # a longer run extends it
    standard_error = outputs.std(axis=0) / np.sqrt(len(outputs))
    assert np.all(np.abs(outputs.mean(axis=0) - half_weight_output()) < 4 * standard_error)
    assert np.allclose(half_weight_output(), [0.398, 0.1255], atol=5e-4)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_mask_outputs_refuse_a_count_that_is_not_a_positive_whole_number(bad) -> None:
    with pytest.raises(ValueError, match="n_masks must be a positive whole number"):
        leaf_mask_outputs(bad)


def test_mask_average_explorer_offers_counts_and_draws() -> None:
    payload = check_explorer(mask_average_explorer(), frames=12, max_bytes=300_000)
    labels = {c["name"]: c["labels"] for c in payload["controls"]}
    assert labels == {
        "n_masks": ["1 mask", "10 masks", "100 masks", "1000 masks"],
        "mask_set": ["draw 1", "draw 2", "draw 3"],
    }
