"""Following one token through a GPT equals the model's own forward pass, stage by stage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmbook.gpt import GPT, GPTConfig
from llmbook.token_trace import (
    TEMPERATURES,
    follow_token_explorer,
    step_names,
    trace_html,
    trace_token,
)
from llmbook.tokenizer import CharTokenizer
from llmbook.widgets import MIME_TYPE, NOTE, WIDGET_VIEW

TEXT = "ROMEO:\nWhat light through yonder window breaks?"
PROMPT = "ROMEO:\nWhat light"


@pytest.fixture(scope="module")
def model_and_tokenizer():
    tokenizer = CharTokenizer.from_text(TEXT)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=24, n_layer=3, n_head=4,
                       n_embd=16)  # fmt: skip
    torch.manual_seed(0)
    model = GPT(config).eval()
    with torch.no_grad():  # weights far from their small start, so every head has something to do
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model, tokenizer


def stopped_after(model: GPT, idx: torch.Tensor, n_blocks: int) -> torch.Tensor:
    """A direct forward pass cut after `n_blocks` blocks, then ln_f and the head: (T, V)."""
    with torch.no_grad():
        x = model.wte(idx) + model.wpe(torch.arange(idx.size(1)))
        for block in model.h[:n_blocks]:
            x = block(x)
        return torch.softmax(model.lm_head(model.ln_f(x))[0].double(), dim=-1)


@pytest.mark.parametrize("position", [0, 5, 11, -1])
def test_trace_ends_with_the_models_own_logits(model_and_tokenizer, position):
    model, tokenizer = model_and_tokenizer
    trace = trace_token(model, tokenizer, PROMPT, position)
    idx = torch.tensor([tokenizer.encode(PROMPT)])
    with torch.no_grad():
        logits, _ = model(idx)
    assert np.allclose(trace.logits, logits[0, position].numpy(), atol=1e-6)
    direct = torch.softmax(logits[0, position].double(), dim=-1).numpy()
    assert np.allclose(trace.probabilities(1.0), direct, atol=1e-6)
    for temperature in TEMPERATURES:
        sharp = torch.softmax(logits[0, position].double() / temperature, dim=-1).numpy()
        assert np.allclose(trace.probabilities(temperature), sharp, atol=1e-6)


def test_each_stage_predicts_what_a_model_cut_there_predicts(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    idx = torch.tensor([tokenizer.encode(PROMPT)])
    trace = trace_token(model, tokenizer, PROMPT, 9)
    stages = trace.stage_probabilities()
    assert len(stages) == 1 + model.config.n_layer
    for n_blocks, probabilities in enumerate(stages):
        direct = stopped_after(model, idx, n_blocks)[9].numpy()
        assert np.allclose(probabilities, direct, atol=1e-6)
        top5 = [g.token for g in trace.top(probabilities)]
        assert top5 == [tokenizer.decode([int(i)]) for i in np.argsort(-direct, kind="stable")[:5]]


def test_attention_rows_are_the_heads_weights_and_sum_to_one(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    trace = trace_token(model, tokenizer, PROMPT, 7)
    idx = torch.tensor([tokenizer.encode(PROMPT)])
    with torch.no_grad():  # the weights recomputed with torch's own attention: weights @ v
        x = model.wte(idx) + model.wpe(torch.arange(idx.size(1)))
        block = model.h[0]
        q, k, v = block.attn.qkv(block.ln_1(x)).split(16, dim=2)
        q, k, v = (a.view(1, -1, 4, 4).transpose(1, 2) for a in (q, k, v))  # (1, nh, T, hs)
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    weights = torch.tensor(trace.blocks[0].attention)  # (nh, t + 1)
    assert weights.shape == (4, 8)
    assert torch.allclose(weights.sum(-1), torch.ones(4), atol=1e-6)
    mixed = torch.einsum("hs,hsd->hd", weights, v[0, :, :8])  # each head: weights @ values
    assert torch.allclose(mixed, out[0, :, 7], atol=1e-5)


def test_sizes_follow_the_residual_stream(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    trace = trace_token(model, tokenizer, PROMPT, 4)
    assert trace.blocks[0].size_before == pytest.approx(trace.embedded_size)
    for before, after in zip(trace.blocks, trace.blocks[1:], strict=False):
        assert after.size_before == pytest.approx(before.size_after_mlp)
    assert trace.next_token == PROMPT[5] and trace.tokens[4] == PROMPT[4]


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("", 0, "non-empty"),
        (PROMPT, len(PROMPT), "position must be an integer in"),
        (PROMPT, 1.5, "position must be an integer in"),
        (TEXT, 0, "more than the context of 24"),
    ],
)
def test_bad_input_is_named_before_any_work(model_and_tokenizer, text, position, message):
    model, tokenizer = model_and_tokenizer
    with pytest.raises(ValueError, match=message):
        trace_token(model, tokenizer, text, position)


def test_frames_show_each_stage(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    trace = trace_token(model, tokenizer, PROMPT, 3)
    n = model.config.n_layer
    assert step_names(n) == ["embeddings", "block 1", "block 2", "block 3", "sampler"]
    assert "Embeddings" in trace_html(trace, 0)
    assert "head&nbsp;4" in trace_html(trace, 2) and "Block 2" in trace_html(trace, 2)
    last = trace_html(trace, n + 1)
    assert all(f"temperature {t:g}" in last for t in TEMPERATURES)
    with pytest.raises(ValueError, match=r"step must be an integer in 0\.\.4"):
        trace_html(trace, n + 2)


def test_explorer_site_payload_live_widget_and_fallback(model_and_tokenizer, monkeypatch):
    model, tokenizer = model_and_tokenizer
    explorer = follow_token_explorer(model, tokenizer, [PROMPT, "ROMEO:\nWhat"], positions=[
        0, 2, 4, 6, 8, 10, 12, 14])  # fmt: skip
    data, _ = explorer.bundle(precompute=True)
    payload = data[MIME_TYPE]
    assert [c["name"] for c in payload["controls"]] == ["prompt", "position", "step"]
    steps = model.config.n_layer + 2
    # step in every state; the prompt and the position one at a time
    assert len(payload["frames"]) == steps * (1 + 1 + 8)
    assert len({f["html"] for f in payload["frames"]}) == len(payload["frames"])
    assert NOTE in data["text/plain"] and "<div" in data["text/html"]
    live, _ = follow_token_explorer(model, tokenizer, [PROMPT]).bundle(precompute=False)
    assert WIDGET_VIEW in live and live[WIDGET_VIEW]["model_id"]


def test_a_shorter_prompt_stops_at_its_last_character(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    explorer = follow_token_explorer(model, tokenizer, [PROMPT, "RO"])
    shown = explorer.draw(prompt="RO", position=10, step=0)
    assert shown == trace_html(trace_token(model, tokenizer, "RO", 1), 0)
    with pytest.raises(ValueError, match="prompts must be a non-empty list"):
        follow_token_explorer(model, tokenizer, "ROMEO")
