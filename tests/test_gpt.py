"""The GPT: parameter counts, both attention paths, a forward pass by hand, sampling, training,
and the modern variants of chapters 15 and 16 (RMSNorm, SwiGLU, RoPE, grouped-query attention,
the KV cache, top-p)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llmbook.attention import KVCache, attention
from llmbook.gpt import (
    GPT,
    MLP,
    Block,
    GPTConfig,
    SwiGLU,
    kv_cache_bytes,
    llama_mlp_hidden,
    param_breakdown,
    param_count,
    sample_next,
    top_k_filter,
    top_p_filter,
)
from llmbook.norm import LayerNorm, RMSNorm, layer_norm, rms_norm
from llmbook.positional import apply_rope, rope_frequencies

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
        ({"dropout": 1.0}, r"dropout must be a finite number in \[0, 1\), got 1.0"),
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
    with pytest.raises(ValueError, match=r"temperature must be a finite number from 1e-06 up"):
        model.generate(start, 3, temperature=0)
    with pytest.raises(ValueError, match=r"top_k must be in 1..vocab_size=11, got 12"):
        model.generate(start, 3, top_k=12)
    with pytest.raises(ValueError, match=r"top_k.*got 0"):
        model.generate(start, 3, top_k=0)


# --- chapters 15 and 16: the modern variants, the KV cache and sampling -------------------

SMALL = {"vocab_size": 13, "block_size": 12, "n_layer": 2, "n_head": 4, "n_embd": 16}
LLAMA_STYLE = {
    "norm": "rmsnorm",
    "mlp": "swiglu",
    "position": "rope",
    "n_kv_head": 2,
    "bias": False,
    "tie_embeddings": False,
}
VARIANTS = [
    {},
    {"norm": "rmsnorm"},
    {"norm": "rmsnorm", "bias": False},
    {"mlp": "swiglu"},
    {"mlp": "swiglu", "mlp_hidden": 40},
    {"mlp": "gelu", "mlp_hidden": 24, "bias": False},
    {"position": "rope"},
    {"n_kv_head": 1},
    {"n_kv_head": 2, "bias": False},
    {"tie_embeddings": False},
    LLAMA_STYLE,
    {**LLAMA_STYLE, "bias": True, "n_kv_head": 4, "mlp_hidden": 20},
]


def _variant(seed: int = 0, **changes: object) -> GPT:
    return _model(GPTConfig(**{**SMALL, **changes}), seed=seed)


def test_defaults_are_the_gpt2_style_model() -> None:
    config = GPTConfig()
    assert (config.norm, config.mlp, config.position) == ("layernorm", "gelu", "learned")
    assert config.kv_heads == config.n_head and config.hidden_size == 4 * config.n_embd
    assert config.tie_embeddings and config.bias
    model = _model(TINY)
    assert isinstance(model.ln_f, LayerNorm) and isinstance(model.h[0].ln_1, LayerNorm)
    assert isinstance(model.h[0].mlp, MLP) and hasattr(model, "wpe")
    assert not hasattr(model, "rope_cos")
    # every model computes its LayerNorms with torch's one kernel, however it was built
    assert all(m.fused for m in model.modules() if isinstance(m, LayerNorm))


@pytest.mark.parametrize(
    "changes", [{}, {"mlp_hidden": 24}, {"mlp": "gelu_tanh"}, {"mlp": "swiglu"}], ids=str
)
def test_mlp_width_is_the_configs_hidden_size(changes: dict[str, object]) -> None:
    """An MLP built directly from any config is as wide as `hidden_size` says."""
    config = GPTConfig(**{**SMALL, **changes})
    mlp = MLP(config)
    assert mlp.fc.weight.shape == (config.hidden_size, 16) == mlp.proj.weight.shape[::-1]


@pytest.mark.parametrize(
    "changes", VARIANTS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "gpt2"
)
def test_param_count_and_breakdown_cover_every_variant(changes: dict[str, object]) -> None:
    config = GPTConfig(**{**SMALL, **changes})
    model = GPT(config)
    assert param_count(config) == sum(p.numel() for p in model.parameters())
    keys = [("head", "lm_head"), ("embedding", "wte"), ("embedding", "wpe"),
            ("attention", "attn"), ("mlp", "mlp"), ("norms", "ln_")]  # fmt: skip
    groups: dict[str, int] = {}
    for name, p in model.named_parameters():
        kind = next(k for k, key in keys if name.startswith(key) or f".{key}" in name)
        groups[kind] = groups.get(kind, 0) + p.numel()
    assert param_breakdown(config) == groups
    assert ("head" in groups) == (not config.tie_embeddings)


def test_rmsnorm_variant_uses_rmsnorm_equal_to_torch() -> None:
    model = _variant(norm="rmsnorm")
    assert all(isinstance(m, RMSNorm) for m in (model.ln_f, model.h[0].ln_1, model.h[1].ln_2))
    assert not any(isinstance(m, LayerNorm) for m in model.modules())
    x = torch.randn(3, 5, 16, generator=torch.Generator().manual_seed(0))
    reference = torch.nn.RMSNorm(16, eps=1e-5)
    torch.testing.assert_close(model.ln_f(x), reference(x))


def test_swiglu_equals_its_formula_and_llama_hidden_rule() -> None:
    config = GPTConfig(**{**SMALL, "mlp": "swiglu"})
    assert config.hidden_size == llama_mlp_hidden(16) == 256  # int(2 * 64 / 3) = 42 -> 256
    assert GPTConfig(**{**SMALL, "mlp": "swiglu", "mlp_hidden": 40}).hidden_size == 40
    torch.manual_seed(0)
    mlp = SwiGLU(GPTConfig(**{**SMALL, "mlp": "swiglu", "mlp_hidden": 40}))
    x = torch.randn(2, 5, 16)
    gate = x @ mlp.gate.weight.T + mlp.gate.bias
    up = x @ mlp.fc.weight.T + mlp.fc.bias
    expected = (gate * torch.sigmoid(gate) * up) @ mlp.proj.weight.T + mlp.proj.bias
    torch.testing.assert_close(mlp(x), expected)


@pytest.mark.parametrize(
    ("n_embd", "multiple_of", "multiplier", "hidden"),
    [
        (4096, 1024, 1.3, 14336),
        (4096, 256, None, 11008),
        (384, 256, None, 1024),
        (96, 32, None, 256),
    ],
)
def test_llama_mlp_hidden_rule(
    n_embd: int, multiple_of: int, multiplier: float | None, hidden: int
) -> None:
    assert (
        llama_mlp_hidden(n_embd, multiple_of, multiplier) == hidden
    )  # 4096 -> 11008: Llama 1/2 7B


def test_llama_style_forward_equals_a_forward_pass_by_hand() -> None:
    """RMSNorm, RoPE, grouped-query attention (oracle: SDPA's enable_gqa), SwiGLU, untied head."""
    model = _variant(**LLAMA_STYLE)
    idx = _tokens(2, 7, SMALL["vocab_size"])
    B, T = idx.shape
    C, nh, nkv = 16, 4, 2
    hs = C // nh
    cos, sin = rope_frequencies(hs, SMALL["block_size"])
    x = model.wte.weight[idx]  # (B, T, C): no position table
    for block in model.h:
        a = block.attn
        h = rms_norm(x, block.ln_1.weight, eps=1e-5)
        q, k, v = (h @ a.qkv.weight.T).split([C, nkv * hs, nkv * hs], dim=2)
        q = apply_rope(q.view(B, T, nh, hs).transpose(1, 2), cos, sin)  # (B, nh, T, hs)
        k = apply_rope(k.view(B, T, nkv, hs).transpose(1, 2), cos, sin)  # (B, nkv, T, hs)
        v = v.view(B, T, nkv, hs).transpose(1, 2)  # (B, nkv, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        x = x + y.transpose(1, 2).reshape(B, T, C) @ a.proj.weight.T
        m = block.mlp
        h = rms_norm(x, block.ln_2.weight, eps=1e-5)
        x = x + (F.silu(h @ m.gate.weight.T) * (h @ m.fc.weight.T)) @ m.proj.weight.T
    logits = rms_norm(x, model.ln_f.weight, eps=1e-5) @ model.lm_head.weight.T
    assert model.lm_head.weight is not model.wte.weight
    torch.testing.assert_close(model(idx)[0], logits, atol=1e-5, rtol=0)
    model.set_fused_attention(False)
    torch.testing.assert_close(model(idx)[0], logits, atol=1e-5, rtol=0)


def test_rope_model_has_no_position_table_and_still_sees_order() -> None:
    model = _variant(position="rope")
    assert not hasattr(model, "wpe") and "rope_cos" not in model.state_dict()
    assert model.num_params(non_embedding=True) == model.num_params()
    idx = torch.tensor([[1, 2, 3, 4]])
    swapped = torch.tensor([[2, 1, 3, 4]])
    assert not torch.allclose(model(idx)[0][:, -1], model(swapped)[0][:, -1], atol=1e-4)


def test_grouped_query_with_groups_of_one_is_multi_head() -> None:
    plain, grouped = _variant(), _variant(n_kv_head=SMALL["n_head"])
    assert grouped.config.kv_heads == plain.config.kv_heads == 4
    for (name, p), (name2, p2) in zip(
        plain.named_parameters(), grouped.named_parameters(), strict=True
    ):
        assert name == name2 and torch.equal(p, p2)
    idx = _tokens(2, 9, SMALL["vocab_size"])
    assert torch.equal(plain(idx)[0], grouped(idx)[0])
    fewer = _variant(n_kv_head=1)
    assert fewer.h[0].attn.qkv.weight.shape == (16 + 2 * 4, 16)  # 4 query heads, 1 k and 1 v


@pytest.mark.parametrize("changes", [{}, LLAMA_STYLE, {"position": "rope", "n_kv_head": 1}])
def test_forward_with_a_cache_equals_forward_on_everything(changes: dict[str, object]) -> None:
    model = _variant(**changes)
    idx = _tokens(2, 10, SMALL["vocab_size"])
    full, _ = model(idx)
    cache = model.new_cache()
    first, _ = model(idx[:, :6], cache=cache)  # a prompt of 6 tokens, then one at a time
    steps = [model(idx[:, t : t + 1], cache=cache)[0] for t in range(6, 10)]
    torch.testing.assert_close(torch.cat([first, *steps], dim=1), full, atol=1e-5, rtol=0)
    assert len(cache[0]) == 10
    per_layer = 2 * 2 * model.config.kv_heads * model.config.head_size * 10  # k, v x B x ...
    assert sum(c.num_values() for c in cache) == model.config.n_layer * per_layer
    assert kv_cache_bytes(model.config, 10, batch_size=2, bytes_per_value=1) == (
        model.config.n_layer * per_layer
    )


@pytest.mark.parametrize("changes", [{}, LLAMA_STYLE])
@pytest.mark.parametrize(
    "sampling",
    [{"top_k": 1}, {}, {"temperature": 0.7, "top_k": 5}, {"top_p": 0.8}, {"temperature": 1.5}],
    ids=str,
)
def test_generate_with_kv_cache_gives_the_same_tokens(
    changes: dict[str, object], sampling: dict[str, object]
) -> None:
    model = _variant(**changes)
    prompt = _tokens(3, 4, SMALL["vocab_size"])
    runs = [
        model.generate(
            prompt, 15, generator=torch.Generator().manual_seed(5), use_cache=use_cache, **sampling
        )
        for use_cache in (False, True)
    ]  # 4 + 15 tokens > block_size 12: the window slides and the cache is rebuilt
    assert runs[0].shape == (3, 19)
    assert torch.equal(runs[0], runs[1])


def test_cache_cannot_grow_past_block_size() -> None:
    model = _variant()
    cache = model.new_cache()
    model(_tokens(1, 12, SMALL["vocab_size"]), cache=cache)
    with pytest.raises(ValueError, match="12 cached \\+ T=1 new positions exceed block_size=12"):
        model(torch.zeros(1, 1, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="list of 2 KVCache"):
        model(torch.zeros(1, 1, dtype=torch.long), cache=[KVCache()])


def test_top_k_filter_keeps_the_k_largest() -> None:
    logits = torch.randn(4, 9, generator=torch.Generator().manual_seed(0))
    for k in range(1, 10):
        kept = torch.isfinite(top_k_filter(logits, k))
        brute = torch.zeros_like(kept)
        for row in range(4):
            brute[row, sorted(range(9), key=lambda i: -logits[row, i])[:k]] = True
        assert torch.equal(kept, brute)


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.75, 0.9, 0.99])
def test_top_p_keeps_the_smallest_set_with_mass_at_least_p(p: float) -> None:
    logits = torch.randn(3, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    probs = F.softmax(logits, dim=-1)
    kept = torch.isfinite(top_p_filter(logits, p))
    for row in range(3):
        # brute force over every subset: the smallest one whose probability reaches p
        sizes = [
            bin(mask).count("1")
            for mask in range(1, 2**8)
            if sum(probs[row, i] for i in range(8) if mask >> i & 1) >= p
        ]
        assert kept[row].sum().item() == min(sizes)
        assert probs[row][kept[row]].sum() >= p
        worst_kept = probs[row][kept[row]].min()
        assert (probs[row][~kept[row]] <= worst_kept).all()  # the most likely ones are kept
    assert torch.equal(top_p_filter(logits, 1.0), logits)


def test_top_k_1_and_tiny_top_p_are_greedy() -> None:
    logits = torch.randn(6, 11, generator=torch.Generator().manual_seed(2))
    greedy = logits.argmax(-1, keepdim=True)
    for seed in range(5):
        g = torch.Generator().manual_seed(seed)
        assert torch.equal(sample_next(logits, top_k=1, generator=g), greedy)
        assert torch.equal(sample_next(logits, top_p=1e-6, generator=g), greedy)
        assert torch.equal(sample_next(logits, temperature=1e-4, generator=g), greedy)


def test_temperature_divides_the_logits_before_softmax() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.0]])
    for temperature in (0.5, 1.0, 2.0):
        draws = sample_next(
            logits.expand(20_000, 3), temperature, generator=torch.Generator().manual_seed(0)
        )
        counts = torch.bincount(draws.view(-1), minlength=3) / 20_000
        expected = F.softmax(logits[0] / temperature, dim=-1)
        torch.testing.assert_close(counts, expected, atol=0.015, rtol=0)  # ~4 sigma


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"norm": "batchnorm"}, r"norm must be one of \('layernorm', 'rmsnorm'\), got 'batchnorm'"),
        ({"mlp": "relu"}, r"mlp must be one of .*got 'relu'"),
        ({"position": "sinusoidal"}, r"position must be one of .*got 'sinusoidal'"),
        ({"n_kv_head": 3}, r"n_head=4 must be a multiple of n_kv_head=3"),
        ({"n_kv_head": 0}, r"n_kv_head must be a positive integer or None, got 0"),
        ({"mlp_hidden": 0}, r"mlp_hidden must be a positive integer or None, got 0"),
        ({"position": "rope", "n_embd": 12}, r"rope needs an even head size, got n_embd/n_head=3"),
    ],
)
def test_bad_variant_config_names_the_value(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GPTConfig(**{**SMALL, **changes})


def test_bad_sampling_settings_raise() -> None:
    model, start = _model(), torch.zeros(1, 1, dtype=torch.long)
    with pytest.raises(ValueError, match=r"top_p must be a finite number in \(0, 1\], got 0"):
        model.generate(start, 2, top_p=0)
    with pytest.raises(ValueError, match=r"top_p must be a finite number in \(0, 1\], got 1.5"):
        model.generate(start, 2, top_p=1.5, use_cache=True)
    with pytest.raises(ValueError, match="temperature must be a finite number from 1e-06 up"):
        sample_next(torch.zeros(1, 3), temperature=-1.0)


def test_kv_cache_rejects_mismatched_keys_and_padding_masks() -> None:
    cache = KVCache()
    assert len(cache) == 0 and cache.num_values() == 0
    cache.append(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 4))
    with pytest.raises(ValueError, match=r"new keys \(1, 1, 1, 4\) do not fit"):
        cache.append(torch.zeros(1, 1, 1, 4), torch.zeros(1, 1, 1, 4))
    with pytest.raises(ValueError, match="k and v must both be"):
        cache.append(torch.zeros(1, 2, 1, 4), torch.zeros(1, 2, 2, 4))
    attn = _variant().h[0].attn
    with pytest.raises(ValueError, match="key_padding_mask cannot be combined"):
        attn(torch.zeros(1, 2, 16), torch.zeros(1, 2, dtype=torch.bool), cache=KVCache())
