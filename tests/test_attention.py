"""Attention against torch: SDPA for the formula, nn.MultiheadAttention for the modules."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llmbook.attention import (
    CausalSelfAttention,
    CrossAttention,
    SelfAttentionHead,
    attention,
    attention_weights,
    causal_mask,
    merge_heads,
    multi_head_attention,
    split_heads,
)

ATOL = 1e-6


@pytest.fixture
def qkv() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    shape = (2, 3, 5, 8)  # (B, nh, T, hs)
    return tuple(torch.randn(shape, generator=g) for _ in range(3))


def _mha_copy(n_embd: int, n_head: int, bias: bool = True) -> tuple[nn.MultiheadAttention, int]:
    torch.manual_seed(1)
    mha = nn.MultiheadAttention(n_embd, n_head, bias=bias, batch_first=True)
    if bias:  # torch initialises biases to 0; make them count
        with torch.no_grad():
            mha.in_proj_bias.normal_()
            mha.out_proj.bias.normal_()
    return mha.eval(), n_embd


def _load_self_attention(att: CausalSelfAttention, mha: nn.MultiheadAttention) -> None:
    with torch.no_grad():
        att.qkv.weight.copy_(mha.in_proj_weight)  # (3C, C): rows Wq, Wk, Wv in both
        att.proj.weight.copy_(mha.out_proj.weight)
        if mha.in_proj_bias is not None:
            att.qkv.bias.copy_(mha.in_proj_bias)
            att.proj.bias.copy_(mha.out_proj.bias)


def test_causal_mask_is_lower_triangular() -> None:
    assert causal_mask(3).int().tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert causal_mask(2, 4).int().tolist() == [[1, 0, 0, 0], [1, 1, 0, 0]]


def test_attention_weights_rows_are_softmax_of_scaled_scores() -> None:
    q = torch.tensor([[1.0, 2.0]])
    k = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    scores = torch.tensor([1.0, 2.0, 3.0]) / math.sqrt(2)
    expected = scores.exp() / scores.exp().sum()
    weights = attention_weights(q, k)
    torch.testing.assert_close(weights[0], expected)
    assert weights.sum().item() == pytest.approx(1.0)
    assert (weights > 0).all()
    unscaled = attention_weights(q, k, scale=False)
    torch.testing.assert_close(unscaled[0], torch.softmax(torch.tensor([1.0, 2.0, 3.0]), -1))


def test_causal_weights_are_zero_above_the_diagonal(qkv) -> None:
    q, k, _ = qkv
    weights = attention_weights(q, k, causal=True)
    T = q.size(-2)
    assert (weights[..., ~causal_mask(T)] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
    assert (weights[..., 0, 0] == 1).all()  # the first token can only look at itself


@pytest.mark.parametrize("causal", [False, True])
def test_attention_equals_sdpa(qkv, causal: bool) -> None:
    q, k, v = qkv
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(attention(q, k, v, causal=causal), expected, atol=ATOL, rtol=0)


def test_attention_equals_sdpa_with_padding_mask(qkv) -> None:
    q, k, v = qkv
    T = k.size(-2)
    lengths = torch.tensor([5, 3])  # the second sequence has 2 padding tokens
    keep = torch.arange(T)[None, :] < lengths[:, None]  # (B, S), True = real token
    mask = keep[:, None, None, :]  # (B, 1, 1, S)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    out = attention(q, k, v, mask=mask)
    torch.testing.assert_close(out, expected, atol=ATOL, rtol=0)
    assert (attention_weights(q, k, mask=mask)[1, ..., 3:] == 0).all()


def test_attention_float_mask_is_added_to_scores(qkv) -> None:
    q, k, v = qkv
    T = q.size(-2)
    bias = torch.randn(T, T, generator=torch.Generator().manual_seed(3))
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    torch.testing.assert_close(attention(q, k, v, mask=bias), expected, atol=ATOL, rtol=0)


def test_attention_rejects_mismatched_shapes() -> None:
    q, k = torch.zeros(4, 8), torch.zeros(5, 6)
    with pytest.raises(ValueError, match=r"\(4, 8\).*\(5, 6\)"):
        attention_weights(q, k)
    with pytest.raises(ValueError, match=r"\(5, 8\).*\(4, 8\)"):
        attention(torch.zeros(4, 8), torch.zeros(5, 8), torch.zeros(4, 8))


def test_self_attention_head_matches_formula() -> None:
    torch.manual_seed(0)
    head = SelfAttentionHead(d_in=6, d_head=4)
    x = torch.randn(2, 5, 6)  # (B, T, d_in)
    q, k, v = x @ head.Wq.weight.T, x @ head.Wk.weight.T, x @ head.Wv.weight.T
    for causal in (False, True):
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        torch.testing.assert_close(head(x, causal=causal), expected, atol=ATOL, rtol=0)
    # The article's version: the last token's query against every key, a (d_head,) vector.
    u = torch.softmax(k[0] @ q[0, -1] / 2.0, dim=0)  # (T,), sqrt(d_head) = 2
    torch.testing.assert_close(head(x)[0, -1], u @ v[0], atol=ATOL, rtol=0)


def test_self_attention_without_positions_ignores_order_of_earlier_tokens() -> None:
    torch.manual_seed(0)
    head = SelfAttentionHead(d_in=6, d_head=4)
    x = torch.randn(4, 6)  # (T, d_in): "humpty dumpty sat on"
    swapped = x[[1, 0, 2, 3]]  # "dumpty humpty sat on"
    torch.testing.assert_close(head(x)[-1], head(swapped)[-1], atol=ATOL, rtol=0)


@pytest.mark.parametrize("bias", [True, False])
def test_fused_and_manual_paths_agree(bias: bool) -> None:
    torch.manual_seed(0)
    att = CausalSelfAttention(n_embd=16, n_head=4, bias=bias)
    x = torch.randn(2, 7, 16)
    fused = att(x)
    att.fused = False
    torch.testing.assert_close(att(x), fused, atol=ATOL, rtol=0)


@pytest.mark.parametrize("causal", [True, False])
def test_causal_self_attention_equals_torch_multihead_attention(causal: bool) -> None:
    mha, C = _mha_copy(n_embd=12, n_head=3)
    att = CausalSelfAttention(C, 3, causal=causal).eval()
    _load_self_attention(att, mha)
    x = torch.randn(2, 6, C, generator=torch.Generator().manual_seed(2))
    mask = ~causal_mask(6) if causal else None  # nn.MultiheadAttention: True = blocked
    expected, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
    for fused in (True, False):
        att.fused = fused
        torch.testing.assert_close(att(x), expected, atol=ATOL, rtol=0)


def test_self_attention_key_padding_mask_equals_torch() -> None:
    mha, C = _mha_copy(n_embd=8, n_head=2)
    att = CausalSelfAttention(C, 2).eval()
    _load_self_attention(att, mha)
    x = torch.randn(2, 5, C, generator=torch.Generator().manual_seed(4))
    pad = torch.tensor([[False] * 5, [False, False, False, True, True]])  # True = padding
    expected, _ = mha(x, x, x, attn_mask=~causal_mask(5), key_padding_mask=pad)
    for fused in (True, False):
        att.fused = fused
        torch.testing.assert_close(att(x, key_padding_mask=pad), expected, atol=ATOL, rtol=0)


def test_causal_output_at_t_ignores_later_tokens() -> None:
    torch.manual_seed(0)
    att = CausalSelfAttention(n_embd=8, n_head=2)
    x = torch.randn(1, 6, 8)
    changed = x.clone()
    changed[:, 4:] = torch.randn(1, 2, 8)
    torch.testing.assert_close(att(x)[:, :4], att(changed)[:, :4])
    assert not torch.allclose(att(x)[:, 4:], att(changed)[:, 4:])


def test_n_kv_head_equal_n_head_is_plain_multi_head() -> None:
    torch.manual_seed(0)
    plain = CausalSelfAttention(16, 4)
    torch.manual_seed(0)
    gqa = CausalSelfAttention(16, 4, n_kv_head=4)
    x = torch.randn(2, 5, 16)
    assert gqa.qkv.weight.shape == (48, 16)
    torch.testing.assert_close(gqa(x), plain(x), atol=0, rtol=0)


@pytest.mark.parametrize("n_kv_head", [1, 2])
def test_grouped_query_attention_equals_multi_head_with_shared_kv(n_kv_head: int) -> None:
    """GQA = MHA whose key/value heads are copied across each group of query heads."""
    torch.manual_seed(0)
    C, nh = 16, 4
    hs, group = C // nh, nh // n_kv_head
    gqa = CausalSelfAttention(C, nh, n_kv_head=n_kv_head)
    assert gqa.qkv.weight.shape == (C + 2 * n_kv_head * hs, C)
    mha = CausalSelfAttention(C, nh)
    wq, wk, wv = gqa.qkv.weight.split([C, n_kv_head * hs, n_kv_head * hs])
    bq, bk, bv = gqa.qkv.bias.split([C, n_kv_head * hs, n_kv_head * hs])

    def expand(w: torch.Tensor) -> torch.Tensor:  # (nkv*hs, ...) -> (nh*hs, ...)
        return w.reshape(n_kv_head, hs, *w.shape[1:]).repeat_interleave(group, 0).flatten(0, 1)

    with torch.no_grad():
        mha.qkv.weight.copy_(torch.cat([wq, expand(wk), expand(wv)]))
        mha.qkv.bias.copy_(torch.cat([bq, expand(bk), expand(bv)]))
        mha.proj.load_state_dict(gqa.proj.state_dict())
    x = torch.randn(2, 5, C)
    for fused in (True, False):
        gqa.fused = fused
        torch.testing.assert_close(gqa(x), mha(x), atol=ATOL, rtol=0)


def test_cross_attention_equals_torch_multihead_attention() -> None:
    mha, C = _mha_copy(n_embd=12, n_head=4)
    cross = CrossAttention(C, 4).eval()
    with torch.no_grad():
        cross.q.weight.copy_(mha.in_proj_weight[:C])
        cross.kv.weight.copy_(mha.in_proj_weight[C:])
        cross.q.bias.copy_(mha.in_proj_bias[:C])
        cross.kv.bias.copy_(mha.in_proj_bias[C:])
        cross.proj.load_state_dict(mha.out_proj.state_dict())
    g = torch.Generator().manual_seed(5)
    x, memory = torch.randn(2, 3, C, generator=g), torch.randn(2, 7, C, generator=g)
    pad = torch.zeros(2, 7, dtype=torch.bool)
    pad[1, 4:] = True  # the second source sentence is 4 tokens long
    for key_padding_mask in (None, pad):
        expected, _ = mha(x, memory, memory, key_padding_mask=key_padding_mask)
        for fused in (True, False):
            cross.fused = fused
            out = cross(x, memory, key_padding_mask=key_padding_mask)
            assert out.shape == (2, 3, C)
            torch.testing.assert_close(out, expected, atol=ATOL, rtol=0)


def test_attention_dropout_only_in_training() -> None:
    torch.manual_seed(0)
    att = CausalSelfAttention(8, 2, dropout=0.5)
    x = torch.randn(1, 6, 8)
    att.eval()
    evaluated = att(x)
    att.fused = False
    torch.testing.assert_close(att(x), evaluated, atol=ATOL, rtol=0)
    att.train()
    assert not torch.allclose(att(x), evaluated)


def test_modules_reject_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"n_embd=10.*n_head=3"):
        CausalSelfAttention(10, 3)
    with pytest.raises(ValueError, match=r"n_embd=10.*n_head=4"):
        CrossAttention(10, 4)
    with pytest.raises(ValueError, match=r"n_head=4.*n_kv_head=3"):
        CausalSelfAttention(16, 4, n_kv_head=3)
    with pytest.raises(ValueError, match=r"dropout.*1.5"):
        CausalSelfAttention(16, 4, dropout=1.5)
    att = CausalSelfAttention(16, 4)
    with pytest.raises(ValueError, match=r"\(B, T, 16\).*\(2, 5, 12\)"):
        att(torch.zeros(2, 5, 12))
    with pytest.raises(ValueError, match=r"\(B, S\).*\(2, 4\)"):
        att(torch.zeros(2, 5, 16), key_padding_mask=torch.zeros(2, 4, dtype=torch.bool))
    cross = CrossAttention(16, 4)
    with pytest.raises(ValueError, match=r"\(2, 5, 16\).*\(3, 7, 16\)"):
        cross(torch.zeros(2, 5, 16), torch.zeros(3, 7, 16))
    with pytest.raises(ValueError, match=r"memory.*\(2, 7, 8\)"):
        cross(torch.zeros(2, 5, 16), torch.zeros(2, 7, 8))
    head = SelfAttentionHead(6, 4)
    with pytest.raises(ValueError, match=r"\(5, 7\)"):
        head(torch.zeros(5, 7))


# ---- chapter 6: the article's version is the last row of the standard form ---------------


def test_article_last_token_query_is_the_last_row_of_unscaled_sdpa() -> None:
    """u_i = (Wk x_i) . (Wq x_3), softmaxed, applied to v_i = Wv x_i: chapter 6's numbers."""
    X = torch.tensor([[1.0, 2.0], [1.0, 1.0], [2.0, 0.0]], dtype=torch.float64)
    Wk = torch.tensor([[1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    Wq = torch.tensor([[0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    Wv = torch.tensor([[1.0, 1.0], [0.0, 2.0]], dtype=torch.float64)
    scores = (X @ Wk.T) @ (Wq @ X[-1])
    assert scores.tolist() == [6.0, 4.0, 4.0]
    u = torch.softmax(scores, dim=0)
    article = u @ (X @ Wv.T)
    torch.testing.assert_close(
        article, torch.tensor([2.787, 3.361], dtype=torch.float64), atol=5e-4, rtol=0
    )
    Q, K, V = X @ Wq.T, X @ Wk.T, X @ Wv.T
    for causal in (True, False):
        unscaled = F.scaled_dot_product_attention(Q, K, V, is_causal=causal, scale=1.0)
        torch.testing.assert_close(unscaled[-1], article)
        # Scaling by 1/sqrt(d) is the article's recipe with Wq / sqrt(d).
        scaled = attention(Q, K, V, causal=causal)[-1]
        rescaled = torch.softmax((X @ Wk.T) @ (Wq @ X[-1]) / math.sqrt(2), 0) @ V
        torch.testing.assert_close(scaled, rescaled)


def test_cross_attention_weights_are_queries_by_source_keys() -> None:
    g = torch.Generator().manual_seed(7)
    q, k, v = torch.randn(2, 4, generator=g), torch.randn(5, 4, generator=g), torch.randn(5, 3)
    weights = attention_weights(q, k)
    assert weights.shape == (2, 5) and (weights > 0).all()
    expected = F.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(attention(q, k, v), expected, atol=ATOL, rtol=0)


# ---- chapter 11: multi-head attention as a function of the weights ---------------------


def _loop_over_heads(x, w_qkv, w_out, n_head, causal):
    """The oracle: one head at a time with chapter 6's formula, concatenated, projected."""
    C = x.size(-1)
    hs = C // n_head
    wq, wk, wv = w_qkv.split(C)
    outputs = []
    for h in range(n_head):
        rows = slice(h * hs, (h + 1) * hs)  # head h's rows of Wq, Wk, Wv
        q, k, v = x @ wq[rows].T, x @ wk[rows].T, x @ wv[rows].T  # each (B, T, hs)
        scores = q @ k.transpose(-2, -1) / math.sqrt(hs)
        if causal:
            scores = scores.masked_fill(~causal_mask(x.size(1)), float("-inf"))
        outputs.append(torch.softmax(scores, dim=-1) @ v)
    concatenated = torch.cat(outputs, dim=-1)  # (B, T, nh * hs)
    assert concatenated.size(-1) == n_head * hs
    return concatenated @ w_out.T


@pytest.mark.parametrize(("n_head", "causal"), [(1, True), (2, False), (4, True)])
def test_multi_head_attention_equals_loop_torch_and_module(n_head: int, causal: bool) -> None:
    torch.manual_seed(3)
    C = 8
    mha = nn.MultiheadAttention(C, n_head, bias=False, batch_first=True).eval()
    w_qkv, w_out = mha.in_proj_weight.detach(), mha.out_proj.weight.detach()
    x = torch.randn(2, 5, C)
    got = multi_head_attention(x, w_qkv, w_out, n_head, causal=causal)
    torch.testing.assert_close(
        got, _loop_over_heads(x, w_qkv, w_out, n_head, causal), atol=ATOL, rtol=0
    )
    mask = ~causal_mask(5) if causal else None
    expected, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)
    module = CausalSelfAttention(C, n_head, bias=False, causal=causal).eval()
    with torch.no_grad():
        module.qkv.weight.copy_(w_qkv)
        module.proj.weight.copy_(w_out)
    for fused in (True, False):
        module.fused = fused
        torch.testing.assert_close(module(x), got, atol=ATOL, rtol=0)


def test_multi_head_attention_biases_match_torch() -> None:
    mha, C = _mha_copy(n_embd=12, n_head=3)
    x = torch.randn(2, 4, C, generator=torch.Generator().manual_seed(8))
    expected, _ = mha(x, x, x, attn_mask=~causal_mask(4), need_weights=False)
    got = multi_head_attention(
        x,
        mha.in_proj_weight,
        mha.out_proj.weight,
        3,
        b_qkv=mha.in_proj_bias,
        b_out=mha.out_proj.bias,
    )
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


def test_article_shared_matrices_then_per_head_maps_equal_per_head_matrices() -> None:
    """The article's k_h = A_h (Wk x) is the per-head projection (A_h Wk) x: one matrix."""
    g = torch.Generator().manual_seed(4)
    C, d, nh, hs, T = 6, 6, 3, 2, 5
    x = torch.randn(T, C, generator=g, dtype=torch.float64)
    shared = {n: torch.randn(d, C, generator=g, dtype=torch.float64) for n in "qkv"}
    maps = {n: torch.randn(nh, hs, d, generator=g, dtype=torch.float64) for n in "qkv"}
    for h in range(nh):
        article = [(x @ shared[n].T) @ maps[n][h].T for n in "qkv"]  # two maps in a row
        per_head = [x @ (maps[n][h] @ shared[n]).T for n in "qkv"]  # one (hs, C) matrix
        for a, b in zip(article, per_head, strict=True):
            torch.testing.assert_close(a, b)
        torch.testing.assert_close(
            attention(*article, causal=True), attention(*per_head, causal=True)
        )


def test_split_and_merge_heads_are_inverse_reshapes() -> None:
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).view(2, 3, 8)  # (B, T, C)
    heads = split_heads(x, 4)
    assert heads.shape == (2, 4, 3, 2)  # (B, nh, T, hs)
    torch.testing.assert_close(heads[1, 2, 0], x[1, 0, 4:6])  # head 2 = columns 4, 5
    torch.testing.assert_close(merge_heads(heads), x)


def test_multi_head_attention_rejects_bad_shapes_naming_them() -> None:
    x = torch.zeros(2, 5, 10)
    w_qkv, w_out = torch.zeros(30, 10), torch.zeros(10, 10)
    with pytest.raises(ValueError, match=r"C=10 into n_head=3.*\(2, 5, 10\)"):
        multi_head_attention(x, w_qkv, w_out, n_head=3)
    with pytest.raises(ValueError, match=r"w_qkv must have shape \(30, 10\).*got \(24, 8\)"):
        multi_head_attention(x, torch.zeros(24, 8), w_out, n_head=2)
    with pytest.raises(ValueError, match=r"w_out must have shape \(10, 10\).*got \(10, 8\)"):
        multi_head_attention(x, w_qkv, torch.zeros(10, 8), n_head=2)
    with pytest.raises(ValueError, match=r"\(B, T, C\), got \(5, 10\)"):
        multi_head_attention(torch.zeros(5, 10), w_qkv, w_out, n_head=2)
    with pytest.raises(ValueError, match=r"b_qkv must have shape \(30,\).*got \(10,\)"):
        multi_head_attention(x, w_qkv, w_out, n_head=2, b_qkv=torch.zeros(10))
    with pytest.raises(ValueError, match=r"\(B, nh, T, hs\), got \(2, 5, 10\)"):
        merge_heads(x)
