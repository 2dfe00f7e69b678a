"""The model's public surface refuses bad values with a message naming them: every GPTConfig
field, token ids outside the vocabulary, empty sequences and extreme sampling settings."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbook.gpt import GPT, GPTConfig, sample_next

SMALL = dict(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8)

NON_FINITE = [math.nan, math.inf, -math.inf]
BAD_CONFIG_VALUES: dict[str, list[object]] = {
    **{
        name: [0, -1, 2.5, math.nan, math.inf, True, "8", None]
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd")
    },
    "dropout": [-0.1, 1.0, 2, *NON_FINITE, "0.1", None, True],
    "bias": [None, 1, "yes", math.nan],
    "tie_embeddings": [None, 0, "no"],
    "norm": ["batchnorm", None, 1],
    "mlp": ["relu", None],
    "position": ["sinusoidal", None],
    "mlp_hidden": [0, -4, 2.0, math.nan, "32", True],
    "n_kv_head": [0, -1, 1.5, math.nan, "1", True],
    "rope_base": [0, -1.0, *NON_FINITE, "1e4", None],
    "norm_eps": [-1e-5, *NON_FINITE, "1e-5", None],
    "rope_scale": [0, -8.0, *NON_FINITE, None],
}


def test_every_config_field_has_bad_values() -> None:
    fields = set(GPTConfig.__dataclass_fields__)
    untested = {"rope_low_freq_factor", "rope_high_freq_factor", "rope_original_context"}
    assert fields - untested == set(BAD_CONFIG_VALUES)


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_any_bad_config_value_is_refused_naming_the_field(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(BAD_CONFIG_VALUES)))
    value = data.draw(st.sampled_from(BAD_CONFIG_VALUES[name]))
    with pytest.raises((ValueError, TypeError), match=name) as info:
        GPTConfig(**{**SMALL, name: value})
    assert repr(value) in str(info.value) or name in ("n_head", "n_embd")


@pytest.fixture(scope="module")
def model() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(**SMALL)).eval()


@pytest.mark.parametrize("bad_id", [-1, 11, 10**6])
def test_token_ids_outside_the_vocabulary_are_named(model: GPT, bad_id: int) -> None:
    idx = torch.tensor([[1, 2, bad_id]])
    with pytest.raises(ValueError, match=f"token id {bad_id} is outside the vocabulary 0..10"):
        model(idx)
    with pytest.raises(ValueError, match=f"token id {bad_id} is outside the vocabulary 0..10"):
        model.generate(idx, 2)


@pytest.mark.parametrize("shape", [(0, 3), (1, 0), (0, 0), (3,)])
def test_empty_or_flat_sequences_are_refused(model: GPT, shape: tuple[int, ...]) -> None:
    idx = torch.zeros(shape, dtype=torch.long)
    with pytest.raises(ValueError, match=r"idx must have shape \(B, T\) with at least one"):
        model(idx)
    with pytest.raises(ValueError, match=r"idx must have shape \(B, T\) with at least one"):
        model.generate(idx, 2)


@settings(max_examples=60, deadline=None)
@given(
    temperature=st.one_of(
        st.sampled_from([1e-45, 0.0, -1.0, *NON_FINITE, 5e-324, 1e-7]),
        st.floats(max_value=1e-6, exclude_max=True, allow_nan=False),
    )
)
def test_extreme_temperatures_are_refused(model: GPT, temperature: float) -> None:
    start = torch.zeros(1, 1, dtype=torch.long)
    with pytest.raises(ValueError, match="temperature must be a finite number from 1e-06 up"):
        model.generate(start, 2, temperature=temperature)


@settings(max_examples=60, deadline=None)
@given(temperature=st.floats(min_value=1e-6, max_value=1e6))
def test_any_allowed_temperature_gives_valid_tokens(model: GPT, temperature: float) -> None:
    out = model.generate(torch.zeros(1, 1, dtype=torch.long), 3, temperature=temperature)
    assert out.shape == (1, 4) and int(out.min()) >= 0 and int(out.max()) < 11


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"top_k": 0}, ValueError, "top_k must be in 1..vocab_size=11, got 0"),
        ({"top_k": 2.5}, TypeError, "top_k must be an integer or None, got 2.5"),
        ({"top_k": True}, TypeError, "top_k must be an integer or None, got True"),
        ({"top_p": math.nan}, ValueError, r"top_p must be a finite number in \(0, 1\], got nan"),
        ({"top_p": "0.9"}, TypeError, "top_p must be a finite number"),
        ({"temperature": "hot"}, TypeError, "temperature must be a finite number"),
    ],
)
def test_bad_sampling_settings_name_the_value(
    model: GPT, kwargs: dict, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        model.generate(torch.zeros(1, 1, dtype=torch.long), 2, **kwargs)
    with pytest.raises(error, match=message):
        sample_next(torch.zeros(1, 11), **kwargs)


def test_bad_max_new_tokens_is_refused(model: GPT) -> None:
    start = torch.zeros(1, 1, dtype=torch.long)
    with pytest.raises(TypeError, match=r"max_new_tokens must be an integer >= 0, got 2\.0"):
        model.generate(start, 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_new_tokens must be >= 0, got -1"):
        model.generate(start, -1)
