"""Layer and RMS normalization against torch's own."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llmbook.norm import LayerNorm, RMSNorm, layer_norm, rms_norm, use_fused_layer_norm

LEAF = torch.tensor([32.0, 107.0, 56.0, 11.2], dtype=torch.float64)


def test_leaf_layer_norm_matches_article() -> None:
    assert LEAF.mean().item() == pytest.approx(51.55)
    assert LEAF.std(correction=0).item() == pytest.approx(35.724, abs=5e-4)
    out = layer_norm(LEAF, eps=0.0)
    assert out.numpy().round(3).tolist() == [-0.547, 1.552, 0.125, -1.129]
    assert out.mean().item() == pytest.approx(0.0, abs=1e-12)
    assert out.std(correction=0).item() == pytest.approx(1.0)


def test_eps_is_invisible_for_the_leaf_but_saves_a_constant_vector() -> None:
    shift = (layer_norm(LEAF, eps=1e-5) - layer_norm(LEAF, eps=0.0)).abs().max().item()
    assert 0 < shift < 1e-8  # var is about 1276, so eps = 1e-5 moves nothing visible
    flat = torch.full((4,), 7.0)
    assert torch.isnan(layer_norm(flat, eps=0.0)).all()  # 0 / 0
    assert (layer_norm(flat) == 0).all()


def test_layer_norm_equals_torch() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 8, generator=g) * 5 + 2
    weight, bias = torch.randn(8, generator=g), torch.randn(8, generator=g)
    expected = F.layer_norm(x, (8,), weight, bias, eps=1e-5)
    torch.testing.assert_close(layer_norm(x, weight, bias), expected)
    torch.testing.assert_close(layer_norm(x), F.layer_norm(x, (8,)))


@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_module_equals_nn_layer_norm(bias: bool) -> None:
    torch.manual_seed(0)
    ours, theirs = LayerNorm(8, bias=bias), nn.LayerNorm(8, bias=bias)
    with torch.no_grad():
        theirs.weight.normal_()
        ours.weight.copy_(theirs.weight)
        if bias:
            theirs.bias.normal_()
            ours.bias.copy_(theirs.bias)
    x = torch.randn(4, 5, 8)
    torch.testing.assert_close(ours(x), theirs(x))
    assert sum(p.numel() for p in ours.parameters()) == (16 if bias else 8)
    assert (ours.bias is None) == (not bias)


def test_rms_norm_equals_torch() -> None:
    torch.manual_seed(0)
    ours, theirs = RMSNorm(8), nn.RMSNorm(8, eps=1e-6)
    with torch.no_grad():
        theirs.weight.normal_()
        ours.weight.copy_(theirs.weight)
    x = torch.randn(4, 5, 8) * 3
    torch.testing.assert_close(ours(x), theirs(x))
    torch.testing.assert_close(rms_norm(x), F.rms_norm(x, (8,), eps=1e-6))
    assert rms_norm(torch.tensor([3.0, 4.0]), eps=0).tolist() == pytest.approx(
        [3 / 12.5**0.5, 4 / 12.5**0.5]
    )


def test_norms_reject_a_weight_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        layer_norm(LEAF, weight=torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(4,\).*\(5,\)"):
        rms_norm(LEAF, weight=torch.ones(5, dtype=torch.float64))
    with pytest.raises(ValueError, match="ndim must be positive, got 0"):
        LayerNorm(0)


def test_eps_shift_for_the_leaf_is_eps_over_twice_the_variance() -> None:
    gap = (layer_norm(LEAF, eps=1e-5) - layer_norm(LEAF, eps=0.0)).abs().max().item()
    variance = LEAF.var(correction=0).item()
    assert variance == pytest.approx(1276.2075)
    assert gap == pytest.approx(1.5522 * 1e-5 / (2 * variance), rel=1e-3)  # about 6.08e-9


def test_rms_norm_of_the_leaf_and_of_the_centred_leaf() -> None:
    assert rms_norm(LEAF, eps=0.0).numpy().round(3).tolist() == [0.51, 1.706, 0.893, 0.179]
    centred = LEAF - LEAF.mean()
    torch.testing.assert_close(rms_norm(centred, eps=0.0), layer_norm(LEAF, eps=0.0))
    ref = nn.RMSNorm(4, eps=0.0, dtype=torch.float64)
    torch.testing.assert_close(ref(LEAF), rms_norm(LEAF, eps=0.0))


def test_layer_norm_ignores_shift_and_scale_of_the_input() -> None:
    base = layer_norm(LEAF, eps=0.0)
    torch.testing.assert_close(layer_norm(LEAF + 100, eps=0.0), base)
    torch.testing.assert_close(layer_norm(10 * LEAF, eps=0.0), base)
    scale, shift = (
        torch.full((4,), 2.0, dtype=torch.float64),
        torch.full((4,), -1.0, dtype=torch.float64),
    )
    out = layer_norm(LEAF, scale, shift, eps=0.0)
    assert out.mean().item() == pytest.approx(-1.0) and out.std(
        correction=0
    ).item() == pytest.approx(2.0)


@pytest.mark.parametrize("bias", [True, False])
def test_the_fused_layer_norm_module_equals_chapter_9s_formula(bias: bool) -> None:
    """The module computes with F.layer_norm; chapter 9's `layer_norm` gives the same numbers,
    forward and backward (in float64: to 1e-12)."""
    g = torch.Generator().manual_seed(0)
    module = LayerNorm(8, bias=bias).double()
    with torch.no_grad():
        module.weight.normal_(generator=g)
        if bias:
            module.bias.normal_(generator=g)
    x = (torch.randn(3, 5, 8, generator=g, dtype=torch.float64) * 20 + 50).requires_grad_()
    assert module.fused
    fused = module(x)
    fused_grads = torch.autograd.grad(fused.square().sum(), [x, module.weight])
    by_hand = layer_norm(x, module.weight, module.bias, module.eps)
    torch.testing.assert_close(fused, by_hand, atol=1e-12, rtol=0)
    hand_grads = torch.autograd.grad(by_hand.square().sum(), [x, module.weight])
    for a, b in zip(fused_grads, hand_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
    use_fused_layer_norm(module, False)
    assert not module.fused
    torch.testing.assert_close(module(x), by_hand, atol=0, rtol=0)  # now the formula itself
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\) to match x"):
        module.fused = True
        module(torch.ones(2, 4, dtype=torch.float64))


@pytest.mark.parametrize("module", [LayerNorm, RMSNorm])
@pytest.mark.parametrize("eps", [-1e-5, float("nan"), "0.1", True])
def test_norm_modules_refuse_an_eps_that_is_not_a_number_at_least_zero(module, eps):
    with pytest.raises(ValueError, match="eps must be a number >= 0"):
        module(4, eps=eps)
