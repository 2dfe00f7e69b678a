"""The residual wrapper: x + block(x), and a clear error when the block changes the shape."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from llmbook import network
from llmbook.attention import CausalSelfAttention
from llmbook.residual import Residual


def test_residual_adds_the_input_back() -> None:
    torch.manual_seed(0)
    block = nn.Linear(4, 4)
    x = torch.randn(3, 4)
    torch.testing.assert_close(Residual(block)(x), x + block(x))


def test_residual_around_attention_is_the_gpt_line() -> None:
    torch.manual_seed(0)
    attn = CausalSelfAttention(8, 2)
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(Residual(attn)(x), x + attn(x))


def test_a_zero_block_passes_the_input_through_and_its_gradient_is_one() -> None:
    block = nn.Linear(3, 3)
    nn.init.zeros_(block.weight)
    nn.init.zeros_(block.bias)
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = Residual(block)(x)
    assert y.tolist() == [1.0, -2.0, 3.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]  # the "+" hands the gradient straight back


def test_residual_rejects_a_block_that_changes_the_shape() -> None:
    with pytest.raises(ValueError, match=r"x \(2, 4\) became \(2, 3\)"):
        Residual(nn.Linear(4, 3))(torch.zeros(2, 4))


def test_leaf_block_residual_matches_the_chapter() -> None:
    w1 = torch.tensor(network.W1)
    leaf = torch.tensor(network.LEAF)

    class LeafBlock(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return w1.T @ torch.relu(w1 @ x)  # (4,) -> (3,) -> (4,)

    out = Residual(LeafBlock())(leaf)
    expected = torch.tensor([32.3026, 106.8739, 56.1009, 11.6035], dtype=torch.float64)
    torch.testing.assert_close(out, expected, atol=5e-5, rtol=0)


def test_residual_rejects_a_silently_broadcasting_block() -> None:
    with pytest.raises(ValueError, match=r"x \(4,\) became \(4, 1\)"):
        Residual(nn.Unflatten(0, (4, 1)))(torch.zeros(4))
