"""llmbook.attention_explorer: checked input, the right frames, weights equal to torch's."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from explorer_checks import check_explorer  # tests/explorer_checks.py
from matplotlib.figure import Figure
from torch import nn

from llmbook.attention import CausalSelfAttention, causal_mask
from llmbook.attention_explorer import (
    as_weights,
    attention_explorer,
    examples_from_model,
    is_causal,
    plot_attention,
    plot_head_rows,
    weights_from_model,
    weights_from_qk,
)
from llmbook.gpt import GPT, GPTConfig
from llmbook.widgets import Choice, explore


def random_weights(shape: tuple[int, ...], causal: bool = False, seed: int = 0) -> np.ndarray:
    """Softmax rows of random scores, shape (..., T, T)."""
    scores = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    if causal:
        scores = scores.masked_fill(~causal_mask(shape[-1]), float("-inf"))
    return torch.softmax(scores, dim=-1).numpy()


def examples(n_sentences: int = 2, n_layer: int = 2, n_head: int = 3, causal: bool = False):
    words = ["humpty", "dumpty", "sat", "on", "a", "wall"]
    out = {}
    for i in range(n_sentences):
        tokens = words[: 3 + i]
        out[" ".join(tokens)] = (tokens, random_weights((n_layer, n_head, 3 + i, 3 + i), causal, i))
    return out


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ---- checking the input ----------------------------------------------------------------


def test_lower_dimensional_weights_are_one_layer_or_one_head() -> None:
    tokens = ["a", "b", "c"]
    assert as_weights(tokens, random_weights((3, 3))).shape == (1, 1, 3, 3)
    assert as_weights(tokens, random_weights((4, 3, 3))).shape == (1, 4, 3, 3)
    assert as_weights(tokens, torch.tensor(random_weights((2, 4, 3, 3)))).shape == (2, 4, 3, 3)


def test_weights_that_do_not_fit_the_tokens_name_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(n_layer, n_head, 4, 4\).*got \(1, 2, 3, 3\)"):
        as_weights(["a", "b", "c", "d"], random_weights((1, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"got \(1, 1, 1, 3, 3\)"):
        as_weights(["a", "b", "c"], random_weights((1, 1, 1, 3, 3)))
    with pytest.raises(ValueError, match="non-empty list"):
        as_weights("abc", random_weights((3, 3)))


def test_rows_must_be_softmax_outputs() -> None:
    bad = random_weights((2, 2, 3, 3))
    bad[1, 0, 2] *= 2
    with pytest.raises(ValueError, match=r"row 3 of layer 2, head 1 adds up to 2"):
        as_weights(["a", "b", "c"], bad)
    with pytest.raises(ValueError, match="non-negative"):
        as_weights(["a", "b"], [[1.5, -0.5], [0.5, 0.5]])


def test_every_sentence_needs_the_same_layers_and_heads() -> None:
    mixed = {
        "a b": (["a", "b"], random_weights((2, 3, 2, 2))),
        "a b c": (["a", "b", "c"], random_weights((2, 4, 3, 3))),
    }
    with pytest.raises(ValueError, match=r"'a b' has \(2, 3\).*'a b c' has \(2, 4\)"):
        attention_explorer(mixed)
    with pytest.raises(TypeError, match=r"pair \(tokens, weights\)"):
        attention_explorer({"a b": random_weights((2, 2))})
    with pytest.raises(ValueError, match="non-empty mapping"):
        attention_explorer({})


def test_unmasked_must_match_and_examples_must_then_be_causal() -> None:
    causal = examples(causal=True)
    full = {s: random_weights(w.shape, seed=9) for s, (_, w) in causal.items()}
    with pytest.raises(ValueError, match="same sentences"):
        attention_explorer(causal, unmasked={"humpty dumpty sat": full["humpty dumpty sat"]})
    with pytest.raises(ValueError, match="swap examples and unmasked"):
        attention_explorer(examples(causal=False), unmasked=full)
    wrong = dict(full, **{"humpty dumpty sat": random_weights((1, 3, 3, 3))})
    with pytest.raises(ValueError, match=r"shape \(1, 3, 3, 3\), examples has \(2, 3, 3, 3\)"):
        attention_explorer(causal, unmasked=wrong)


def test_is_causal_reads_the_upper_triangle() -> None:
    assert is_causal(random_weights((2, 4, 4), causal=True))
    assert not is_causal(random_weights((2, 4, 4), causal=False))


# ---- the explorer ----------------------------------------------------------------------


def test_frames_are_sentences_times_layers_times_heads() -> None:
    explorer = attention_explorer(examples(n_sentences=2, n_layer=2, n_head=3))
    assert list(explorer.controls) == ["sentence", "layer", "head"]
    assert explorer.frame_count == 2 * 2 * 3
    assert [len(c.static_values()) for c in explorer.controls.values()] == [2, 2, 3]


def test_the_mask_toggle_doubles_the_frames_and_shows_both_versions() -> None:
    causal = examples(n_sentences=2, n_layer=1, n_head=2, causal=True)
    full = {s: random_weights(w.shape, seed=5) for s, (_, w) in causal.items()}
    explorer = attention_explorer(causal, unmasked=full)
    assert list(explorer.controls) == ["sentence", "head", "causal"]  # one layer: no slider
    assert explorer.frame_count == 2 * 2 * 2
    html = explorer.static_html()
    assert len(re.findall(r'class="lbx-frame"', html)) == 8
    assert html.count("<select") == 1 and html.count('type="checkbox"') == 1
    assert " checked " in html  # the mask starts on
    on = explorer.draw(sentence="humpty dumpty sat", head=2, causal=True)
    off = explorer.draw(sentence="humpty dumpty sat", head=2, causal=False)
    assert on.texts[0].get_text() == "head 2, causal mask on"
    assert off.texts[0].get_text() == "head 2, causal mask off"


def test_sentences_come_first_so_the_first_control_changes_the_frame() -> None:
    explorer = attention_explorer(examples(n_sentences=3, n_layer=1, n_head=1))
    assert list(explorer.controls) == ["sentence"]
    assert explorer.frame_count == 3
    single = attention_explorer(examples(n_sentences=1, n_layer=1, n_head=2))
    assert list(single.controls) == ["head"]  # one sentence: no dropdown with one option
    only = attention_explorer(examples(n_sentences=1, n_layer=1, n_head=1))
    assert list(only.controls) == ["sentence"] and only.frame_count == 1


def test_static_picks_the_sentences_on_the_site() -> None:
    many = examples(n_sentences=4, n_layer=1, n_head=1)
    explorer = attention_explorer(many, static=list(many)[:2])
    assert explorer.frame_count == 2
    assert len(explorer.controls["sentence"].live_values()) == 4  # live: all four


def test_too_many_frames_raise_naming_the_count() -> None:
    big = examples(n_sentences=3, n_layer=4, n_head=3)
    with pytest.raises(ValueError, match=r"3 sentences x 4 layers x 3 heads = 36.*max_frames=32"):
        attention_explorer(big, max_frames=32)
    assert attention_explorer(big, static=list(big)[:2], max_frames=32).frame_count == 24


def test_plot_attention_draws_one_matrix_readably() -> None:
    tokens = ["humpty", "dumpty", "sat"]
    fig = plot_attention(tokens, random_weights((3, 3)), title="one head")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert fig.get_size_inches()[0] <= 6.4  # fits the page at phone width
    heat, lines = fig.axes
    assert [t.get_text() for t in heat.get_yticklabels()] == tokens
    assert sum(t.get_text() == "sat" for t in lines.texts) == 2  # both sides of the lines
    with pytest.raises(ValueError, match=r"one \(T, T\) matrix"):
        plot_attention(tokens, random_weights((2, 3, 3)))
    with pytest.raises(ValueError, match="query"):
        plot_attention(tokens, random_weights((3, 3)), query=3)


# ---- computing the weights -------------------------------------------------------------


@pytest.mark.parametrize("causal", [True, False])
def test_weights_from_qk_are_softmax_of_scaled_scores(causal: bool) -> None:
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 5, 4, generator=g), torch.randn(2, 5, 4, generator=g)
    scores = q @ k.transpose(-2, -1) / 2.0  # sqrt(4) = 2
    if causal:
        scores = scores.masked_fill(~causal_mask(5), float("-inf"))
    expected = torch.softmax(scores.double(), dim=-1).numpy()
    np.testing.assert_allclose(weights_from_qk(q, k, causal=causal), expected, atol=1e-6)
    np.testing.assert_allclose(
        weights_from_qk(q.numpy(), k.numpy(), causal=causal), expected, atol=1e-6
    )
    with pytest.raises(ValueError, match=r"q \(5, 4\) and k \(6, 4\)"):
        weights_from_qk(np.zeros((5, 4)), np.zeros((6, 4)))


@pytest.mark.parametrize("causal", [True, False])
def test_weights_from_model_equal_torch_multihead_attention_weights(causal: bool) -> None:
    torch.manual_seed(1)
    mha = nn.MultiheadAttention(12, 3, batch_first=True).eval()
    att = CausalSelfAttention(12, 3, causal=causal).eval()
    with torch.no_grad():
        att.qkv.weight.copy_(mha.in_proj_weight)
        att.qkv.bias.copy_(mha.in_proj_bias)
    x = torch.randn(2, 6, 12)
    mask = ~causal_mask(6) if causal else None  # nn.MultiheadAttention: True = blocked
    _, expected = mha(x, x, x, attn_mask=mask, need_weights=True, average_attn_weights=False)
    for batch in (0, 1):
        got = weights_from_model(att, x, batch=batch)
        assert got.shape == (1, 3, 6, 6)
        np.testing.assert_allclose(got[0], expected[batch].detach().numpy(), atol=1e-6)


def test_weights_from_model_follow_a_stack_and_restore_the_mask_setting() -> None:
    torch.manual_seed(0)
    first, second = CausalSelfAttention(8, 2), CausalSelfAttention(8, 2, n_kv_head=1)
    stack = nn.Sequential(first, second)
    x = torch.randn(1, 5, 8)
    weights = weights_from_model(stack, x)
    assert weights.shape == (2, 2, 5, 5) and is_causal(weights)
    # Layer 2 sees layer 1's output; compare with the weights worked out by hand.
    h = first(x)
    q, k, _ = second.qkv(h).split([8, 4, 4], dim=2)
    q = q.view(1, 5, 2, 4).transpose(1, 2)  # (B, nh, T, hs)
    k = k.view(1, 5, 1, 4).transpose(1, 2).expand(1, 2, 5, 4)  # one key head for both
    np.testing.assert_allclose(weights[1], weights_from_qk(q[0], k[0]), atol=1e-6)
    unmasked = weights_from_model(stack, x, causal=False)
    assert not is_causal(unmasked)
    assert first.causal and second.causal  # the modules are as they were
    assert stack.training  # and so is the training flag
    with pytest.raises(ValueError, match="no CausalSelfAttention"):
        weights_from_model(nn.Linear(2, 2), torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"batch must be in \[0, 1\)"):
        weights_from_model(stack, x, batch=1)


def test_examples_from_model_feed_a_gpt_straight_into_the_explorer() -> None:
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=27, block_size=16, n_layer=2, n_head=2, n_embd=8)
    model = GPT(config)
    alphabet = " abcdefghijklmnopqrstuvwxyz"

    def encode(text: str) -> list[int]:
        return [alphabet.index(c) for c in text]

    def decode(ids: list[int]) -> str:
        return "".join(alphabet[i] for i in ids)

    texts = ["humpty", "dumpty sat"]
    found = examples_from_model(model, texts, encode, decode)
    assert list(found) == texts
    tokens, weights = found["dumpty sat"]
    assert tokens == list("dumpty sat") and weights.shape == (2, 2, 10, 10)
    assert is_causal(weights)
    explorer = attention_explorer(found)
    assert explorer.frame_count == 2 * 2 * 2


# ---- where each head's last token looks, for models with 1, 2 and 4 heads ------------------


def last_rows(n_head: int, T: int, seed: int) -> np.ndarray:
    return random_weights((n_head, T, T), causal=True, seed=seed)[:, -1]  # (n_head, T)


def head_models() -> dict[str, dict[str, tuple[list[str], np.ndarray]]]:
    words = ["humpty", "dumpty", "sat", "on", "a", "wall"]
    return {
        f"{n} heads": {
            " ".join(words[: 3 + i]): (words[: 3 + i], last_rows(n, 3 + i, i + n)) for i in range(2)
        }
        for n in (1, 2, 4)
    }


def test_head_rows_draw_one_row_per_head_with_the_marked_words_coloured() -> None:
    tokens = ["humpty", "dumpty", "sat"]
    fig = plot_head_rows(tokens, last_rows(2, 3, 0), marked={"dumpty": "#ff0000"}, title="t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["head 1", "head 2"]
    colours = {t.get_text(): t.get_color() for t in ax.get_xticklabels()}
    assert colours["dumpty"] == "#ff0000" and colours["humpty"] != "#ff0000"
    assert ax.images[0].get_array().shape == (2, 3)


def test_head_rows_make_an_explorer_over_models_and_sentences() -> None:
    models = head_models()

    def draw(model: str, sentence: str) -> Figure:
        return plot_head_rows(*models[model][sentence], title=model)

    sentences = list(models["1 heads"])
    explorer = explore(draw, model=Choice(list(models)), sentence=Choice(sentences))
    payload = check_explorer(explorer, frames=6, max_bytes=200_000)
    assert payload["controls"][0]["labels"] == ["1 heads", "2 heads", "4 heads"]


def test_head_rows_refuse_rows_that_are_not_weights_or_do_not_fit_the_tokens() -> None:
    tokens = ["a", "b", "c"]
    with pytest.raises(ValueError, match=r"shape \(n_head, T\) with T = 3"):
        plot_head_rows(tokens, np.full((2, 4), 0.25))
    with pytest.raises(ValueError, match="add up to 1"):
        plot_head_rows(tokens, np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match="must be >= 0"):
        plot_head_rows(tokens, np.array([[1.5, -0.5, 0.0]]))
