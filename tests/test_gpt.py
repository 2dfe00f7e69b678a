"""The GPT: parameter counts, both attention paths, a forward pass by hand, sampling, training."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llmbook.attention import attention
from llmbook.gpt import GPT, MLP, Block, GPTConfig, param_breakdown, param_count
from llmbook.norm import layer_norm

TINY = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)


def _model(config: GPTConfig = TINY, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(config).eval()


def _tokens(B: int, T: int, vocab_size: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(vocab_size, (B, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    "config",
    [
        TINY,
        GPTConfig(vocab_size=7, block_size=5, n_layer=1, n_head=1, n_embd=4),
        GPTConfig(vocab_size=65, block_size=32, n_layer=3, n_head=4, n_embd=32, bias=False),
        GPTConfig(vocab_size=100, block_size=16, n_layer=4, n_head=3, n_embd=24, dropout=0.1),
    ],
)
def test_param_count_formula_equals_built_model(config: GPTConfig) -> None:
    model = GPT(config)
    assert param_count(config) == model.num_params()
    assert model.num_params(non_embedding=True) == param_count(config) - (
        config.block_size * config.n_embd
    )
    groups = {"embedding": 0, "attention": 0, "mlp": 0, "norms": 0}
    for name, p in model.named_parameters():  # the tied lm_head.weight is listed once, as wte
        kind = next(k for k, key in [("embedding", "wpe"), ("embedding", "wte"),
                                     ("attention", "attn"), ("mlp", "mlp"), ("norms", "ln_")]
                    if key in name)  # fmt: skip
        groups[kind] += p.numel()
    assert param_breakdown(config) == groups


def test_param_count_matches_published_sizes() -> None:
    gpt2 = GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)
    assert param_count(gpt2) == 124_439_808  # GPT-2 small ("124M")
    shakespeare = GPTConfig(bias=False)  # nanoGPT's shakespeare_char: "10.65M"
    assert param_count(shakespeare) - 256 * 384 == 10_646_784


def test_lm_head_is_tied_to_token_embedding() -> None:
    model = _model()
    assert model.lm_head.weight is model.wte.weight
    assert model.lm_head.bias is None


def test_init_follows_gpt2() -> None:
    config = GPTConfig(vocab_size=50, block_size=64, n_layer=4, n_head=4, n_embd=64)
    model = _model(config)
    assert model.wte.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.h[0].attn.qkv.weight.std().item() == pytest.approx(0.02, rel=0.05)
    residual_std = 0.02 / math.sqrt(2 * config.n_layer)  # 0.00707
    for block in model.h:
        assert block.attn.proj.weight.std().item() == pytest.approx(residual_std, rel=0.05)
        assert block.mlp.proj.weight.std().item() == pytest.approx(residual_std, rel=0.05)
        assert (block.mlp.fc.bias == 0).all()
        assert (block.ln_1.weight == 1).all() and (block.ln_1.bias == 0).all()


def test_loss_at_init_is_about_log_vocab_size() -> None:
    config = GPTConfig(vocab_size=65, block_size=32, n_layer=2, n_head=4, n_embd=32)
    model = _model(config)
    idx, targets = _tokens(8, 32, 65, seed=1), _tokens(8, 32, 65, seed=2)
    logits, loss = model(idx, targets)
    assert logits.shape == (8, 32, 65)
    assert loss.item() == pytest.approx(math.log(65), abs=0.1)  # ln 65 = 4.17


def test_fused_and_manual_attention_give_the_same_model() -> None:
    model = _model()
    idx = _tokens(3, 8, TINY.vocab_size)
    fused, _ = model(idx)
    model.set_fused_attention(False)
    assert all(not block.attn.fused for block in model.h)
    manual, _ = model(idx)
    torch.testing.assert_close(manual, fused, atol=1e-5, rtol=0)


def test_forward_equals_a_forward_pass_by_hand() -> None:
    """Embedding + positions -> blocks -> ln_f -> head, written out with bare tensors."""
    model = _model()
    idx = _tokens(2, 6, TINY.vocab_size)
    B, T = idx.shape
    C, nh = TINY.n_embd, TINY.n_head
    hs = C // nh
    x = model.wte.weight[idx] + model.wpe.weight[:T]  # (B, T, C)
    for block in model.h:
        a = block.attn
        h = layer_norm(x, block.ln_1.weight, block.ln_1.bias)
        q, k, v = (h @ a.qkv.weight.T + a.qkv.bias).split(C, dim=2)  # 3 x (B, T, C)
        q, k, v = (t.view(B, T, nh, hs).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = attention(q, k, v, causal=True).transpose(1, 2).reshape(B, T, C)  # (B, T, C)
        x = x + y @ a.proj.weight.T + a.proj.bias
        m = block.mlp
        h = layer_norm(x, block.ln_2.weight, block.ln_2.bias)
        h = F.gelu(h @ m.fc.weight.T + m.fc.bias)  # (B, T, 4C)
        x = x + h @ m.proj.weight.T + m.proj.bias
    x = layer_norm(x, model.ln_f.weight, model.ln_f.bias)
    logits = x @ model.wte.weight.T  # (B, T, C) @ (C, V) -> (B, T, V)
    targets = _tokens(2, 6, TINY.vocab_size, seed=7)
    expected_loss = F.cross_entropy(logits.reshape(-1, TINY.vocab_size), targets.reshape(-1))
    got_logits, got_loss = model(idx, targets)
    torch.testing.assert_close(got_logits, logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(got_loss, expected_loss, atol=1e-5, rtol=0)


def test_block_is_two_residual_lines() -> None:
    torch.manual_seed(0)
    block, x = Block(TINY).eval(), torch.randn(2, 5, TINY.n_embd)
    after_attn = x + block.attn(block.ln_1(x))
    torch.testing.assert_close(block(x), after_attn + block.mlp(block.ln_2(after_attn)))
    mlp = MLP(TINY)
    assert [type(m).__name__ for m in mlp.children()] == ["Linear", "GELU", "Linear", "Dropout"]
    assert mlp.fc.weight.shape == (4 * TINY.n_embd, TINY.n_embd)


def test_logits_at_t_ignore_later_tokens() -> None:
    model = _model()
    idx = _tokens(1, 8, TINY.vocab_size)
    changed = idx.clone()
    changed[0, 5:] = (changed[0, 5:] + 1) % TINY.vocab_size
    torch.testing.assert_close(model(idx)[0][:, :5], model(changed)[0][:, :5])


def test_ignore_index_minus_one_is_left_out_of_the_loss() -> None:
    model = _model()
    idx, targets = _tokens(2, 8, TINY.vocab_size), _tokens(2, 8, TINY.vocab_size, seed=3)
    masked = targets.clone()
    masked[:, 4:] = -1
    logits, loss = model(idx, masked)
    expected = F.cross_entropy(
        logits[:, :4].reshape(-1, TINY.vocab_size), targets[:, :4].reshape(-1)
    )
    torch.testing.assert_close(loss, expected)


def test_generate_is_deterministic_with_a_seeded_generator() -> None:
    model = _model()
    start = torch.zeros(2, 1, dtype=torch.long)

    def sample(seed: int, **kwargs: object) -> torch.Tensor:
        return model.generate(start, 12, generator=torch.Generator().manual_seed(seed), **kwargs)

    out = sample(0)
    assert out.shape == (2, 13) and out.dtype == torch.long
    assert (out[:, 0] == 0).all() and out.min() >= 0 and out.max() < TINY.vocab_size
    assert torch.equal(out, sample(0))
    assert torch.equal(sample(1, top_k=3, temperature=0.7), sample(1, top_k=3, temperature=0.7))
    assert not torch.equal(out, sample(1))  # 24 draws from 11 tokens: a tie is unlikely


def test_generate_with_top_k_1_is_greedy_and_crops_to_block_size() -> None:
    model = _model()
    idx = _tokens(1, 8, TINY.vocab_size)  # already block_size long: generate must crop
    out = model.generate(idx, 4, top_k=1)
    assert out.shape == (1, 12)
    assert torch.equal(out[:, :8], idx)
    expected = idx
    for _ in range(4):
        logits, _ = model(expected[:, -TINY.block_size :])
        expected = torch.cat([expected, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, expected)


def test_a_few_adamw_steps_lower_the_loss() -> None:
    model = _model()
    model.train()
    idx, targets = _tokens(4, 8, TINY.vocab_size), _tokens(4, 8, TINY.vocab_size, seed=5)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        _, loss = model(idx, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.5


def test_dropout_is_active_only_in_training() -> None:
    config = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=0.2)
    model = _model(config)
    idx = _tokens(2, 8, 11)
    torch.testing.assert_close(model(idx)[0], model(idx)[0])
    model.train()
    assert not torch.allclose(model(idx)[0], model(idx)[0])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_embd": 10, "n_head": 3}, r"n_embd=10.*n_head=3"),
        ({"vocab_size": 0}, "vocab_size must be a positive integer, got 0"),
        ({"n_layer": -1}, "n_layer must be a positive integer, got -1"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
        ({"dropout": -0.1}, r"got -0.1"),
    ],
)
def test_bad_config_names_the_value(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GPTConfig(**changes)


def test_bad_inputs_raise_clear_errors() -> None:
    model = _model()
    with pytest.raises(ValueError, match="T=9 exceeds block_size=8"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(TypeError, match=r"integer tensor.*torch.float32"):
        model(torch.zeros(1, 4))
    with pytest.raises(TypeError, match=r"integer tensor.*list"):
        model([[1, 2]])
    with pytest.raises(ValueError, match=r"\(B, T\).*\(4,\)"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets.*\(1, 4\).*\(1, 3\)"):
        model(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long))
    start = torch.zeros(1, 1, dtype=torch.long)
    with pytest.raises(ValueError, match="temperature must be > 0, got 0"):
        model.generate(start, 3, temperature=0)
    with pytest.raises(ValueError, match=r"top_k must be in 1..vocab_size=11, got 12"):
        model.generate(start, 3, top_k=12)
    with pytest.raises(ValueError, match=r"top_k.*got 0"):
        model.generate(start, 3, top_k=0)
