"""The encoder-decoder against torch.nn.Transformer, its decoding, its masks and its errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llmbook import toydata
from llmbook.attention import causal_mask
from llmbook.positional import sinusoidal_encoding
from llmbook.transformer import (
    EncoderDecoder,
    FeedForward,
    Transformer,
    TransformerConfig,
    copy_to_torch,
    count_parameters,
    cross_attention_weights,
    greedy_decode,
    torch_reference,
)

ATOL = 1e-5
SMALL = {"d_model": 16, "n_head": 4, "d_ff": 32, "n_encoder_layer": 2, "n_decoder_layer": 3}


def _randomised(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every norm a non-trivial scale and shift, so that copying them is tested too."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(torch.randn(p.shape, generator=g))
    return model.eval()


def _pair(final_norm: bool = False) -> tuple[EncoderDecoder, nn.Transformer]:
    torch.manual_seed(0)
    config = TransformerConfig(**SMALL, final_norm=final_norm)
    ours = _randomised(EncoderDecoder(config))
    return ours, copy_to_torch(ours, torch_reference(config)).eval()


@pytest.fixture
def vectors() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(3, 5, 16, generator=g), torch.randn(3, 4, 16, generator=g)


SRC_PAD = torch.tensor([[0, 0, 0, 0, 0], [0, 0, 0, 1, 1], [0, 1, 1, 1, 1]], dtype=torch.bool)
TGT_PAD = torch.tensor([[0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1]], dtype=torch.bool)


@pytest.mark.parametrize("final_norm", [False, True])
def test_matches_torch_transformer_without_padding(vectors, final_norm) -> None:
    ours, ref = _pair(final_norm)
    src, tgt = vectors
    expected = ref(src, tgt, tgt_mask=~causal_mask(4), tgt_is_causal=True)
    assert torch.allclose(ours(src, tgt), expected, atol=ATOL)


@pytest.mark.parametrize("final_norm", [False, True])
def test_matches_torch_transformer_with_padding_masks(vectors, final_norm) -> None:
    ours, ref = _pair(final_norm)
    src, tgt = vectors
    with torch.no_grad():  # torch's inference fast path, too
        expected = ref(
            src,
            tgt,
            tgt_mask=~causal_mask(4),  # torch: True = blocked; ours: True = may attend
            tgt_is_causal=True,
            src_key_padding_mask=SRC_PAD,
            tgt_key_padding_mask=TGT_PAD,
            memory_key_padding_mask=SRC_PAD,
        )
        got = ours(src, tgt, SRC_PAD, TGT_PAD, SRC_PAD)
        memory = ours.encode(src, SRC_PAD)
        assert torch.allclose(memory, ref.encoder(src, src_key_padding_mask=SRC_PAD), atol=ATOL)
    assert torch.allclose(got, expected, atol=ATOL)


def test_torch_float_causal_mask_gives_the_same_answer(vectors) -> None:
    ours, ref = _pair()
    src, tgt = vectors
    float_mask = nn.Transformer.generate_square_subsequent_mask(4)  # 0 / -inf
    assert torch.allclose(ours(src, tgt), ref(src, tgt, tgt_mask=float_mask), atol=ATOL)


def test_same_parameter_count_as_torch() -> None:
    for final_norm in (False, True):
        ours, ref = _pair(final_norm)
        assert count_parameters(ours) == count_parameters(ref)


def test_decoder_cannot_see_later_target_positions(vectors) -> None:
    ours, _ = _pair()
    src, tgt = vectors
    changed = tgt.clone()
    changed[:, 2:] = torch.randn(3, 2, 16)
    with torch.no_grad():
        assert torch.allclose(ours(src, tgt)[:, :2], ours(src, changed)[:, :2], atol=ATOL)
        assert not torch.allclose(ours(src, tgt)[:, 2:], ours(src, changed)[:, 2:])


def test_encoder_sees_every_source_position(vectors) -> None:
    ours, _ = _pair()
    src, _ = vectors
    changed = src.clone()
    changed[:, -1] += 1.0
    with torch.no_grad():
        assert not torch.allclose(ours.encode(src)[:, 0], ours.encode(changed)[:, 0])


def test_feed_forward_works_on_each_position_separately() -> None:
    torch.manual_seed(0)
    ffn = FeedForward(8, 16)
    x = torch.randn(2, 5, 8)
    one_by_one = torch.stack([ffn(x[:, t]) for t in range(5)], dim=1)
    by_hand = F.relu(x @ ffn.fc1.weight.T + ffn.fc1.bias) @ ffn.fc2.weight.T + ffn.fc2.bias
    assert torch.allclose(ffn(x), one_by_one, atol=1e-6)
    assert torch.allclose(ffn(x), by_hand, atol=1e-6)


def _model(**overrides) -> Transformer:
    torch.manual_seed(0)
    settings = {**SMALL, "max_len": 8, **overrides}
    return _randomised(Transformer(TransformerConfig(**settings)))


def test_embedding_is_scaled_and_gets_the_sinusoidal_code() -> None:
    model = _model()
    src = torch.tensor([[4, 29, 30, 13]])
    x = model.src_embed(src) * math.sqrt(16) + sinusoidal_encoding(8, 16)[:4]
    with torch.no_grad():
        assert torch.allclose(model.encode(src), model.core.encode(x), atol=1e-6)


def test_padding_the_source_changes_no_translation_score() -> None:
    model = _model()
    src, src_pad, tgt, tgt_pad = toydata.make_batch([312, 7])
    with torch.no_grad():
        batched = model(src, tgt, src_pad, tgt_pad)
        for row, n in enumerate([312, 7]):
            s, _, t, _ = toydata.make_batch([n])
            alone = model(s, t)
            T = t.size(1)
            assert torch.allclose(batched[row, :T], alone[0], atol=ATOL)


def test_loss_is_cross_entropy_over_real_target_tokens() -> None:
    model = _model()
    src, src_pad, tgt, tgt_pad = toydata.make_batch([312, 7, 45])
    with torch.no_grad():
        logits = model(src, tgt[:, :-1], src_pad, tgt_pad[:, :-1])
        terms = [
            -torch.log_softmax(logits[b, t], -1)[tgt[b, t + 1]]
            for b in range(3)
            for t in range(tgt.size(1) - 1)
            if tgt[b, t + 1] != toydata.PAD_ID
        ]
        assert len(terms) == 4 + 2 + 3  # "312"+<eos>, "7"+<eos>, "45"+<eos>
        assert torch.allclose(model.loss(src, src_pad, tgt, tgt_pad), torch.stack(terms).mean())


def test_encoder_runs_once_and_feeds_all_five_decoder_layers() -> None:
    model = _model(n_encoder_layer=5, n_decoder_layer=5).eval()
    encoder_calls, memories, layer_calls = [], [], [0] * 5
    model.core.encoder.register_forward_hook(lambda m, a, out: encoder_calls.append(out))
    for k, layer in enumerate(model.core.decoder.layers):
        layer.register_forward_hook(
            lambda m, a, out, k=k: layer_calls.__setitem__(k, layer_calls[k] + 1)
        )
        layer.cross_attn.register_forward_hook(lambda m, args, out: memories.append(args[1]))
    src, src_pad, _, _ = toydata.make_batch([312])
    out = greedy_decode(model, src, 4, toydata.BOS_ID, toydata.EOS_ID, src_pad)
    steps = out.size(1) - 1
    assert len(encoder_calls) == 1
    assert layer_calls == [steps] * 5
    assert len(memories) == 5 * steps and all(m is encoder_calls[0] for m in memories)


def test_cross_attention_weights_match_multihead_attention() -> None:
    ours, ref = _pair()
    g = torch.Generator().manual_seed(3)
    x, memory = torch.randn(3, 4, 16, generator=g), torch.randn(3, 5, 16, generator=g)
    module, mha = ours.decoder.layers[0].cross_attn, ref.decoder.layers[0].multihead_attn
    with torch.no_grad():
        weights = cross_attention_weights(module, x, memory, SRC_PAD)
        _, expected = mha(x, memory, memory, key_padding_mask=SRC_PAD, average_attn_weights=False)
    assert weights.shape == (3, 4, 4, 5)  # (B, nh, T, S)
    assert torch.allclose(weights, expected, atol=1e-6)
    assert torch.allclose(weights.sum(-1), torch.ones(3, 4, 4))
    assert weights[2, :, :, 1:].abs().max() == 0  # padding gets no attention


def test_greedy_decode_equals_a_step_by_step_argmax_loop() -> None:
    model = _model().eval()
    src, src_pad, _, _ = toydata.make_batch([312, 7, 45])
    got = greedy_decode(model, src, 5, toydata.BOS_ID, toydata.EOS_ID, src_pad)
    for row in range(3):
        ids = [toydata.BOS_ID]
        with torch.no_grad():
            memory = model.encode(src[row : row + 1], src_pad[row : row + 1])
            for _ in range(5):
                logits = model.decode(torch.tensor([ids]), memory, None, src_pad[row : row + 1])
                ids.append(int(logits[0, -1].argmax()))
                if ids[-1] == toydata.EOS_ID:
                    break
        ids += [toydata.PAD_ID] * (got.size(1) - len(ids))  # ended rows are filled with pad
        assert got[row].tolist() == ids


def test_greedy_decode_returns_cross_attention_of_every_layer() -> None:
    model = _model().eval()
    src, src_pad, _, _ = toydata.make_batch([312, 7])
    out, weights = greedy_decode(
        model, src, 4, toydata.BOS_ID, toydata.EOS_ID, src_pad, return_cross_attention=True
    )
    T = out.size(1) - 1
    assert weights.shape == (3, 2, 4, T, 4)  # (n_decoder_layer, B, nh, T, S)
    assert torch.allclose(weights.sum(-1), torch.ones(3, 2, 4, T))
    assert weights[:, 1, :, :, 1:].abs().max() == 0  # "seven" has one real word
    assert greedy_decode(model, src, 4, toydata.BOS_ID, toydata.EOS_ID, src_pad).equal(out)


@pytest.fixture
def one_thread():
    """Small matrices: one thread is as fast and never waits for a busy core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_a_trained_model_learns_to_translate_number_words(one_thread) -> None:
    torch.manual_seed(0)
    config = TransformerConfig(d_model=16, n_head=2, d_ff=32, n_encoder_layer=1, n_decoder_layer=1)
    model = Transformer(config)
    numbers = [7, 45, 312, 600, 999]  # learn five by heart
    batch = toydata.make_batch(numbers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        loss = model.loss(*batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    out = greedy_decode(model, batch[0], 4, toydata.BOS_ID, toydata.EOS_ID, batch[1])
    assert [toydata.decode_target(r) for r in out] == [str(n) for n in numbers]
    assert loss.item() < 0.3


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"d_model": 30, "n_head": 4}, "divisible"),
        ({"d_model": 3, "n_head": 1}, "even"),
        ({"n_head": 0}, "n_head"),
        ({"n_encoder_layer": 1.5}, "n_encoder_layer"),
        ({"dropout": 1.0}, "dropout"),
        ({"pad_id": 13}, "pad_id"),
    ],
)
def test_bad_config_raises(settings, message) -> None:
    with pytest.raises(ValueError, match=message):
        TransformerConfig(**settings)


def test_bad_inputs_raise_clear_errors() -> None:
    model = _model().eval()
    src, tgt = torch.tensor([[4, 29]]), torch.tensor([[1, 6]])
    cases = [
        (lambda: model(src.float(), tgt), TypeError, "integer tensor"),
        (lambda: model(src[0], tgt), ValueError, r"shape \(B, L\)"),
        (lambda: model(torch.tensor([[4, 31]]), tgt), ValueError, "outside 0..30"),
        (lambda: model(src, torch.tensor([[1, 13]])), ValueError, "outside 0..12"),
        (lambda: model(torch.ones(1, 9, dtype=torch.long), tgt), ValueError, "max_len=8"),
        (lambda: model(torch.cat([src, src]), tgt), ValueError, "batch sizes differ"),
        (lambda: model(src, tgt, torch.zeros(1, 3, dtype=torch.bool)), ValueError, r"\(1, 2\)"),
        (lambda: model(src, tgt, torch.zeros(1, 2)), TypeError, "bool tensor"),
        (lambda: model(src, tgt, torch.ones(1, 2, dtype=torch.bool)), ValueError, "every"),
        (lambda: model.core(torch.randn(1, 2, 8), torch.randn(1, 2, 16)), ValueError, "src"),
        (
            lambda: model.core.decode(torch.randn(1, 2, 16), torch.randn(2, 2, 16)),
            ValueError,
            "batch",
        ),
        (lambda: model.core.encode(torch.ones(1, 2, 16, dtype=torch.long)), TypeError, "float"),
        (lambda: model.loss(src, None, tgt[:, :1], None), ValueError, "T >= 2"),
        (lambda: greedy_decode(model, src, 0, 1, 2), ValueError, "max_new_tokens"),
        (lambda: greedy_decode(model, src, 8, 1, 2), ValueError, "max_new_tokens"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()


def test_copy_to_torch_refuses_a_mismatched_reference() -> None:
    ours, _ = _pair()
    other = TransformerConfig(**{**SMALL, "n_decoder_layer": 2})
    with pytest.raises(ValueError, match="number of layers"):
        copy_to_torch(ours, torch_reference(other))
    with pytest.raises(ValueError, match="final norms"):
        copy_to_torch(ours, torch_reference(TransformerConfig(**SMALL, final_norm=True)))
