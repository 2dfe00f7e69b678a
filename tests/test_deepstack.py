"""The deep stack: its layers are the formulas they claim, and depth fades or keeps the signal."""

from __future__ import annotations

import pytest
import torch
from explorer_checks import check_explorer  # tests/explorer_checks.py
from torch import nn

from llmbook.deepstack import DeepStack, depth_explorer, depth_profile, random_inputs, trace


def test_layers_compute_the_stated_formulas() -> None:
    x = random_inputs(5, 8, seed=3)
    for residual in (False, True):
        for norm, ref in ((None, nn.Identity()), ("layer", nn.LayerNorm(8)), ("rms", None)):
            stack = DeepStack(3, 8, residual=residual, norm=norm, seed=1)
            ref_norm = ref if ref is not None else nn.RMSNorm(8, eps=1e-6)
            h = x
            for layer in stack.layers:
                y = torch.relu(ref_norm(h)) @ layer.linear.weight.T  # by hand, torch's norms
                h = h + y if residual else y
            torch.testing.assert_close(stack(x), h)


def test_seed_fixes_the_weights_and_leaves_the_global_generator_alone() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = DeepStack(4, 6, seed=7)
    after = torch.rand(1)
    b = DeepStack(4, 6, seed=7)
    assert torch.equal(before, after)
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert torch.equal(la.linear.weight, lb.linear.weight)
    assert not torch.equal(
        a.layers[0].linear.weight, DeepStack(4, 6, seed=8).layers[0].linear.weight
    )


def test_gain_sets_the_weight_spread() -> None:
    w = torch.cat([layer.linear.weight.flatten() for layer in DeepStack(20, 64, gain=2.0).layers])
    assert w.std().item() == pytest.approx(2.0 / 64**0.5, rel=0.02)  # 81920 draws: SE 0.25 %


def test_plain_stack_fades_and_residual_stack_keeps_the_signal() -> None:
    x = random_inputs(64, 32)
    plain = trace(DeepStack(50, 32), x)
    resid = trace(DeepStack(50, 32, residual=True), x)
    assert len(plain.activation_norms) == len(plain.gradient_norms) == 51
    assert len(plain.weight_gradient_norms) == 50
    assert plain.activation_norms[0] == pytest.approx(resid.activation_norms[0])
    assert plain.activation_norms[-1] < 1e-15 * plain.activation_norms[0]  # about 0.4 per layer
    assert plain.gradient_norms[0] < 1e-15 * plain.gradient_norms[-1]
    assert resid.activation_norms[-1] > resid.activation_norms[0]  # grows a little per layer
    assert resid.gradient_norms[0] > resid.gradient_norms[-1]  # the gradient reaches the bottom
    # the residual gradient is never smaller than what arrives from above: (I + J)^T r
    assert min(resid.gradient_norms) > 0.5 * resid.gradient_norms[-1]


def test_layer_norm_holds_the_activations_steady() -> None:
    x = random_inputs(64, 32)
    for gain in (1.0, 2.0):
        sizes = trace(DeepStack(40, 32, norm="layer", gain=gain), x).activation_norms[1:]
        assert max(sizes) < 2 * min(sizes)
    assert trace(DeepStack(40, 32, gain=2.0), x).activation_norms[-1] > 1e4


def test_trace_gradients_match_autograd_by_hand() -> None:
    stack, x = DeepStack(3, 4, residual=True, seed=2), random_inputs(2, 4, seed=5)
    result = trace(stack, x, seed=9)
    x0 = x.clone().requires_grad_(True)
    out = stack(x0)
    r = torch.randn(out.shape, generator=torch.Generator().manual_seed(10))
    (out * r).sum().backward()
    assert result.gradient_norms[0] == pytest.approx(x0.grad.norm(dim=-1).mean().item())
    assert result.gradient_norms[-1] == pytest.approx(r.norm(dim=-1).mean().item())
    w_grad = stack.layers[0].linear.weight.grad.norm().item()
    assert result.weight_gradient_norms[0] == pytest.approx(w_grad)


def test_bad_settings_are_named() -> None:
    with pytest.raises(ValueError, match="depth must be a positive integer, got 0"):
        DeepStack(0, 4)
    with pytest.raises(ValueError, match="norm must be one of"):
        DeepStack(2, 4, norm="batch")
    with pytest.raises(ValueError, match="gain must be positive"):
        DeepStack(2, 4, gain=0.0)
    with pytest.raises(ValueError, match=r"width 4 .* shape \(2, 3\)"):
        DeepStack(2, 4)(torch.zeros(2, 3))


def test_depth_explorer_offers_depth_gain_and_layer_norm() -> None:
    payload = check_explorer(depth_explorer(), frames=34, max_bytes=400_000)
    names = [c["name"] for c in payload["controls"]]
    assert names == ["depth", "gain", "layer_norm"]
    depth = payload["controls"][0]
    assert depth["labels"][0] == "1" and depth["labels"][-1] == "48"


def test_depth_profile_vanishes_without_layer_norm_and_holds_with_it() -> None:
    plain, held = depth_profile(48, 1.0, False), depth_profile(48, 1.0, True)
    assert len(plain.activation_norms) == 49
    assert plain.activation_norms[-1] < 1e-6 < 1 < held.activation_norms[-1] < 10
    assert plain.gradient_norms[0] < 1e-6 < 1 < held.gradient_norms[0] < 10
    assert depth_profile(48, 2.0, False).activation_norms[-1] > 1e7
