"""llmbook.nextchar: the next-character network, its training and "predict, append, slide"."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmbook import chars, nextchar, texts


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from parallel threads; on a busy machine they lose a lot."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def humpty_model():
    """The fixed-code model trained on the article's line (27 padded windows): under a second."""
    model = nextchar.NextCharMLP(context=12, hidden=64, seed=0)
    losses = nextchar.train_nextchar(model, texts.HUMPTY, epochs=150, lr=3e-2, seed=0)
    return model, losses


@pytest.mark.parametrize(("embedding", "inputs"), [(None, 12), (10, 120), (3, 36)])
def test_input_layer_has_context_times_embedding_neurons(embedding, inputs):
    model = nextchar.NextCharMLP(context=12, hidden=16, embedding=embedding)
    assert model.hidden.in_features == inputs  # 12 x 10 = 120 as in the article
    codes = torch.tensor([chars.encode("humpty dumpt"), chars.encode("umpty dumpty")])
    assert model.inputs(codes).shape == (2, inputs)
    assert model(codes).shape == (2, chars.VOCAB_SIZE)


def test_fixed_codes_forward_matches_a_by_hand_computation():
    model = nextchar.NextCharMLP(context=12, hidden=8, seed=3)
    codes = chars.encode("humpty dumpt")
    x = np.array(codes) / 28  # the scaled codes
    w1, b1 = model.hidden.weight.detach().double().numpy(), model.hidden.bias.detach().double()
    w2, b2 = model.output.weight.detach().double().numpy(), model.output.bias.detach().double()
    hidden = np.maximum(w1 @ x + b1.numpy(), 0)
    expected = w2 @ hidden + b2.numpy()
    got = model(torch.tensor(codes)).detach().double().numpy()[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_embedding_input_is_the_characters_columns_side_by_side():
    model = nextchar.NextCharMLP(context=3, hidden=4, embedding=5, seed=1)
    table = model.embedding.weight.detach()  # (28, 5): row k - 1 for code k
    codes = torch.tensor([chars.encode("hum")])
    one_hot = torch.nn.functional.one_hot(codes[0] - 1, chars.VOCAB_SIZE).float()  # (3, 28)
    expected = (one_hot @ table).flatten()  # one-hot times the matrix selects the rows
    torch.testing.assert_close(model.inputs(codes)[0], expected)
    torch.testing.assert_close(model.inputs(codes)[0][:5], table[chars.CODE["h"] - 1])


def test_same_seed_same_weights_and_global_random_state_untouched():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = nextchar.NextCharMLP(seed=7, embedding=4)
    after = torch.rand(1)
    b = nextchar.NextCharMLP(seed=7, embedding=4)
    c = nextchar.NextCharMLP(seed=8, embedding=4)
    assert before == after
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        assert torch.equal(pa, pb)
        assert not torch.equal(pa, pc)


def test_training_pairs_are_the_sliding_windows():
    x, y = nextchar.training_pairs(texts.HUMPTY, 12, pad=False)
    assert x.shape == (15, 12) and y.shape == (15,)
    assert x[0].tolist() == chars.encode("humpty dumpt") and y[0].item() == chars.CODE["y"]
    assert chars.decode(x[-1].tolist()) == "sat on a wal" and y[-1].item() == chars.CODE["l"]
    assert len(nextchar.training_pairs(texts.HUMPTY, 12)[1]) == 27  # padded: every character


def test_training_lowers_the_loss_and_regenerates_the_line(humpty_model):
    model, losses = humpty_model
    assert len(losses) == 150
    assert losses[-1] < 0.05 < 3.0 < losses[0]
    assert nextchar.accuracy(model, texts.HUMPTY) == 1.0
    assert nextchar.generate(model, "humpty dumpt", 15) == texts.HUMPTY
    assert nextchar.generate(model, "h", 26) == texts.HUMPTY  # padded start, as in training


def test_generation_loop_is_predict_append_slide(humpty_model):
    model, _ = humpty_model
    text = "humpty dumpt"
    for _ in range(15):
        window = text[-12:]
        scores = model(torch.tensor([chars.encode(window)]))
        text += chars.decode([int(scores.argmax()) + 1])  # output k - 1 is character code k
    assert text == nextchar.generate(model, "humpty dumpt", 15)


def test_full_batch_training_is_repeatable():
    runs = []
    for _ in range(2):
        model = nextchar.NextCharMLP(hidden=32, seed=4)
        runs.append(nextchar.train_nextchar(model, texts.HUMPTY, epochs=20, lr=1e-2, seed=0))
    assert runs[0] == runs[1]


def test_mini_batch_order_follows_the_seed():
    def run(seed):
        model = nextchar.NextCharMLP(hidden=32, seed=4, embedding=2)
        return nextchar.train_nextchar(
            model, texts.HUMPTY, epochs=5, lr=1e-2, seed=seed, batch_size=4
        )

    assert run(0) == run(0)
    assert run(0) != run(1)


def test_learned_embeddings_fit_the_rhymes_better_than_fixed_codes():
    corpus = chars.clean(texts.NURSERY_RHYMES["jack and jill"])
    results = {}
    for embedding in (None, 8):
        model = nextchar.NextCharMLP(context=8, hidden=64, embedding=embedding, seed=0)
        losses = nextchar.train_nextchar(model, corpus, epochs=150, lr=1e-2)
        results[embedding] = (losses[-1], nextchar.accuracy(model, corpus))
    assert results[8][0] < results[None][0]
    assert results[8][1] > results[None][1]


def test_a_long_prompt_is_seen_only_through_the_window(humpty_model):
    model, _ = humpty_model
    tail = "humpty dumpt"
    long = "sat on a wall " + tail
    assert nextchar.generate(model, long, 5) == "sat on a wall " + nextchar.generate(model, tail, 5)


def test_a_short_prompt_is_padded_with_spaces(humpty_model):
    model, _ = humpty_model
    assert nextchar.predict_next(model, "hu") == nextchar.predict_next(model, " " * 10 + "hu")


@pytest.mark.parametrize(
    ("prompt", "error", "message"),
    [
        ("", ValueError, "prompt is empty"),
        ("Humpty", ValueError, "'H' at position 0 of the prompt"),
        ("hum#", ValueError, "'#' at position 3"),
        (8, TypeError, "prompt must be a str"),
    ],
)
def test_bad_prompts_are_refused_clearly(humpty_model, prompt, error, message):
    model, _ = humpty_model
    with pytest.raises(error, match=message):
        nextchar.generate(model, prompt, 3)


def test_zero_characters_returns_the_prompt_and_negative_is_refused(humpty_model):
    model, _ = humpty_model
    assert nextchar.generate(model, "hum", 0) == "hum"
    with pytest.raises(ValueError, match="n must be"):
        nextchar.generate(model, "hum", -1)


@pytest.mark.parametrize(
    ("codes", "error", "message"),
    [
        (torch.ones(2, 5, dtype=torch.long), ValueError, r"shape \(B, 12\)"),
        (torch.zeros(1, 12, dtype=torch.long), ValueError, "code 0 is not between 1 and 28"),
        (torch.full((1, 12), 29), ValueError, "code 29"),
        (torch.ones(1, 12), TypeError, "must be integers"),
    ],
)
def test_bad_codes_are_refused(codes, error, message):
    with pytest.raises(error, match=message):
        nextchar.NextCharMLP()(codes)


@pytest.mark.parametrize(
    "kwargs", [{"context": 0}, {"hidden": 0}, {"embedding": 0}, {"vocab_size": -1}]
)
def test_bad_sizes_are_refused(kwargs):
    with pytest.raises(ValueError, match="must be at least 1"):
        nextchar.NextCharMLP(**kwargs)


def test_bad_training_settings_are_refused():
    model = nextchar.NextCharMLP(hidden=4)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        nextchar.train_nextchar(model, texts.HUMPTY, epochs=1, lr=0)
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        nextchar.train_nextchar(model, texts.HUMPTY, epochs=0, lr=0.1)
    with pytest.raises(ValueError, match="needs at least 13"):
        nextchar.train_nextchar(model, "humpty", epochs=1, lr=0.1, pad=False)
