"""Positional codes: the paper's formula, the article's form, learned embeddings, RoPE."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from llmbook.attention import SelfAttentionHead
from llmbook.gpt import GPT, GPTConfig
from llmbook.positional import (
    LearnedPositionalEmbedding,
    apply_rope,
    article_encoding,
    rope_frequencies,
    sinusoidal_encoding,
    sinusoidal_shift,
)


def _is_toeplitz(m: torch.Tensor, atol: float) -> bool:
    """True when m[a, b] depends only on b - a: every diagonal is constant."""
    return torch.allclose(m[1:, 1:], m[:-1, :-1], atol=atol, rtol=0)


def test_sinusoidal_encoding_equals_the_formula_loop() -> None:
    T, d = 20, 8
    pe = sinusoidal_encoding(T, d)
    assert pe.shape == (T, d) and pe.dtype == torch.float32
    for p in range(T):
        for i in range(d // 2):
            angle = p / 10000 ** (2 * i / d)
            assert pe[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_sinusoidal_rows_are_bounded_and_distinct() -> None:
    pe = sinusoidal_encoding(512, 16)
    assert pe.min() >= -1 and pe.max() <= 1
    distances = torch.cdist(pe, pe) + torch.eye(512) * 10  # ignore each row against itself
    assert distances.min() > 1e-3


def test_sinusoidal_dot_product_depends_only_on_distance() -> None:
    pe = sinusoidal_encoding(64, 16).double()
    gram = pe @ pe.T  # gram[a, b] = sum_i cos(w_i (b - a))
    assert _is_toeplitz(gram, atol=1e-5)
    torch.testing.assert_close(gram, gram.T)
    assert gram[0, 0].item() == pytest.approx(8.0)  # d/2 pairs of sin^2 + cos^2


def test_sinusoidal_rejects_odd_width() -> None:
    with pytest.raises(ValueError, match=r"d_model must be even.*got 7"):
        sinusoidal_encoding(10, 7)
    with pytest.raises(ValueError, match="n_positions must be positive, got 0"):
        sinusoidal_encoding(0, 8)


def test_article_encoding_matches_article_example() -> None:
    enc = article_encoding(12, 10, context=12)
    assert enc.shape == (12, 10)
    assert enc[1, 5].item() == pytest.approx(math.sin(1 / 10000 ** (5 / 12)), abs=1e-7)
    assert round(enc[1, 5].item(), 4) == 0.0215
    assert enc.min() >= -1 and enc.max() <= 1
    assert enc.min() < 0  # the article's "between 0 and 1" does not hold
    assert len({tuple(row.tolist()) for row in enc}) == 12  # every position has its own code


def test_article_form_dot_product_depends_on_more_than_distance() -> None:
    """Sine alone is not shift-invariant; the paper's sin/cos pairs are."""
    enc = article_encoding(24, 12, context=12).double()
    assert not _is_toeplitz(enc @ enc.T, atol=1e-3)


def test_learned_positional_embedding_is_what_gpt_adds() -> None:
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16)
    model = GPT(config)
    pos = LearnedPositionalEmbedding(config.block_size, config.n_embd)
    assert pos.wpe.weight.std().item() == pytest.approx(0.02, rel=0.2)
    pos.load_state_dict({"wpe.weight": model.wpe.weight.detach()})
    idx = torch.randint(11, (2, 5))
    tokens = model.wte(idx)  # (B, T, C)
    torch.testing.assert_close(pos(tokens), tokens + model.wpe(torch.arange(5)))
    torch.testing.assert_close(pos(tokens) - tokens, model.wpe.weight[:5].expand(2, 5, 16))
    with pytest.raises(ValueError, match="T=9 exceeds block_size=8"):
        pos(torch.zeros(1, 9, 16))
    with pytest.raises(ValueError, match=r"\(\.\.\., T, 16\).*\(1, 4, 3\)"):
        pos(torch.zeros(1, 4, 3))


def test_rope_angles_are_the_sinusoidal_angles() -> None:
    cos, sin = rope_frequencies(head_dim=8, max_len=10)
    assert cos.shape == sin.shape == (10, 4)
    pe = sinusoidal_encoding(10, 8)
    torch.testing.assert_close(sin, pe[:, 0::2])
    torch.testing.assert_close(cos, pe[:, 1::2])


def test_apply_rope_equals_complex_multiplication() -> None:
    """Pair (a, b) as the complex number a + ib; RoPE multiplies it by e^(i * angle)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 7, 8, generator=g)  # (B, nh, T, hs)
    cos, sin = rope_frequencies(8, 16)
    angle = torch.atan2(sin[:7], cos[:7])  # (T, hs/2)
    z = torch.view_as_complex(x.reshape(2, 3, 7, 4, 2))  # (B, nh, T, hs/2) complex
    expected = torch.view_as_real(z * torch.polar(torch.ones_like(angle), angle)).flatten(-2)
    torch.testing.assert_close(apply_rope(x, cos, sin), expected)


def test_rope_preserves_length_and_leaves_position_zero_alone() -> None:
    x = torch.randn(5, 8, generator=torch.Generator().manual_seed(1))  # (T, hs)
    rotated = apply_rope(x, *rope_frequencies(8, 5))
    torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(rotated[0], x[0])


def test_rope_query_key_dot_product_depends_only_on_position_difference() -> None:
    g = torch.Generator().manual_seed(2)
    q, k = torch.randn(16, generator=g), torch.randn(16, generator=g)
    T = 12
    cos, sin = rope_frequencies(16, T)
    q_at = apply_rope(q.expand(T, 16), cos, sin)  # the same query placed at positions 0..T-1
    k_at = apply_rope(k.expand(T, 16), cos, sin)
    scores = q_at @ k_at.T  # scores[m, n] = q at position m . k at position n
    assert _is_toeplitz(scores, atol=1e-5)
    assert not torch.allclose(scores[0, 1], scores[0, 2])  # ... but it does depend on it


def test_rope_rejects_mismatched_tables() -> None:
    cos, sin = rope_frequencies(8, 4)
    with pytest.raises(ValueError, match="cover 4 positions but x has T=6"):
        apply_rope(torch.zeros(6, 8), cos, sin)
    with pytest.raises(ValueError, match=r"x \(6, 6\), cos \(4, 4\)"):
        apply_rope(torch.zeros(6, 6), cos, sin)
    with pytest.raises(ValueError, match=r"head_dim must be even.*got 5"):
        rope_frequencies(5, 4)


def test_article_encoding_base_replaces_ten_thousand() -> None:
    enc = article_encoding(5, 6, context=12, base=100.0)
    assert enc[3, 4].item() == pytest.approx(math.sin(3 / 100 ** (4 / 12)), abs=1e-7)
    torch.testing.assert_close(article_encoding(5, 6, 12, base=10000.0), article_encoding(5, 6, 12))


def test_sinusoidal_shift_is_one_rotation_for_every_position() -> None:
    """PE[p + k] = M_k PE[p] with the same M_k at every p: the paper's reason for sin/cos."""
    T, d, k = 100, 16, 7
    pe = sinusoidal_encoding(T + k, d).double()
    shift = sinusoidal_shift(k, d).double()
    torch.testing.assert_close(pe[:T] @ shift.T, pe[k:], atol=1e-5, rtol=0)
    # the brute-force oracle: the one linear map that sends rows p to rows p + k, by least
    # squares (base 100 so that even the slowest pair turns enough over 200 positions)
    pe_100 = sinusoidal_encoding(200 + k, 8, base=100.0).double()
    fitted = torch.linalg.lstsq(pe_100[:200], pe_100[k:]).solution.T  # (d, d)
    torch.testing.assert_close(fitted, sinusoidal_shift(k, 8, 100.0).double(), atol=1e-4, rtol=0)
    torch.testing.assert_close(
        shift @ shift.T, torch.eye(d, dtype=torch.float64), atol=1e-6, rtol=0
    )
    torch.testing.assert_close(
        sinusoidal_shift(3, d) @ sinusoidal_shift(4, d), sinusoidal_shift(7, d)
    )
    torch.testing.assert_close(sinusoidal_shift(-k, d), sinusoidal_shift(k, d).T)
    torch.testing.assert_close(sinusoidal_shift(0, d), torch.eye(d))


def test_sinusoidal_shift_has_no_article_form_counterpart() -> None:
    """With sines alone no single matrix moves every row on by k: the least-squares fit fails."""
    enc = article_encoding(60, 12, context=12).double()
    fitted = torch.linalg.lstsq(enc[:50], enc[7:57]).solution
    assert (enc[:50] @ fitted - enc[7:57]).abs().max() > 1e-2


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: sinusoidal_encoding(10, 7), ValueError, r"d_model must be even.*got 7"),
        (lambda: sinusoidal_encoding(10, 0), ValueError, "d_model must be positive, got 0"),
        (lambda: sinusoidal_encoding(-3, 8), ValueError, "n_positions must be positive, got -3"),
        (lambda: sinusoidal_encoding(10, 8, base=0.0), ValueError, "base must be a positive"),
        (lambda: sinusoidal_encoding(10, 8, base=-2), ValueError, "got -2"),
        (lambda: sinusoidal_encoding(10, 8, base=math.inf), ValueError, "got inf"),
        (lambda: sinusoidal_encoding(10, 8, base="1e4"), TypeError, "base must be a number"),
        (lambda: sinusoidal_encoding(10.0, 8), TypeError, "n_positions must be an integer"),
        (lambda: sinusoidal_encoding(True, 8), TypeError, "n_positions must be an integer"),
        (lambda: article_encoding(12, 0, context=12), ValueError, "n_dims must be positive"),
        (lambda: article_encoding(12, 10, context=0), ValueError, "context must be positive"),
        (lambda: article_encoding(12, 10, 12, base=0), ValueError, "base must be a positive"),
        (lambda: sinusoidal_shift(1, 9), ValueError, r"d_model must be even.*got 9"),
        (lambda: sinusoidal_shift(1.5, 8), TypeError, "k must be an integer, got 1.5"),
        (lambda: rope_frequencies(8, 0), ValueError, "max_len must be positive, got 0"),
        (lambda: rope_frequencies(8, 4, base=-1.0), ValueError, "base must be a positive"),
        (lambda: LearnedPositionalEmbedding(0, 16), ValueError, "block_size must be positive"),
        (lambda: LearnedPositionalEmbedding(8, -1), ValueError, "n_embd must be positive"),
    ],
)
def test_bad_sizes_and_bases_raise_clear_errors(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


def test_attention_is_blind_to_order_until_positions_are_added() -> None:
    """Chapter 12's permutation test, with torch's fused attention as the oracle."""
    torch.manual_seed(0)
    head = SelfAttentionHead(8, 8).double()
    x = torch.randn(4, 8, dtype=torch.float64)  # (T, C)
    codes = sinusoidal_encoding(4, 8).double()  # (T, C)
    with torch.no_grad():
        q, k, v = head.Wq(x), head.Wk(x), head.Wv(x)
        oracle = F.scaled_dot_product_attention(q[None], k[None], v[None])[0]
        torch.testing.assert_close(head(x), oracle)
        for order in itertools.permutations(range(3)):
            rows = [*order, 3]  # shuffle the earlier tokens, keep the last one last
            torch.testing.assert_close(head(x[rows])[-1], head(x)[-1])
            moved = (head(x[rows] + codes)[-1] - head(x + codes)[-1]).abs().max().item()
            assert (moved > 1e-3) == (list(order) != [0, 1, 2])


def test_learned_positions_also_break_the_symmetry() -> None:
    torch.manual_seed(1)
    head, pos = SelfAttentionHead(8, 8), LearnedPositionalEmbedding(12, 8)
    with torch.no_grad():
        pos.wpe.weight.normal_()  # as if trained: large enough to matter
        x = torch.randn(1, 4, 8)  # (B, T, C)
        shuffled = x[:, [1, 0, 2, 3]]
        torch.testing.assert_close(head(shuffled)[0, -1], head(x)[0, -1])
        assert not torch.allclose(head(pos(shuffled))[0, -1], head(pos(x))[0, -1], atol=1e-3)
