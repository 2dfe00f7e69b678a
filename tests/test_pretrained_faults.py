"""A pretrained folder with something wrong gives one line naming the file and the fix, never a
traceback: a damaged .safetensors, config.json's missing keys and bad values, shapes that
disagree, nan weights, tensors nothing uses, devices this machine lacks. Hypothesis damages the
files at random: the loaders load or raise their own error, nothing else."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

transformers = pytest.importorskip("transformers")
safetensors_torch = pytest.importorskip("safetensors.torch")

from llmbook import sample  # noqa: E402
from llmbook.pretrained import PretrainedError, from_pretrained  # noqa: E402
from llmbook.tokenizer import BPETokenizer, load_gpt2_bpe, save_gpt2_bpe  # noqa: E402

GPT2 = dict(vocab_size=270, n_positions=32, n_embd=32, n_layer=2, n_head=4, bos_token_id=None,
            eos_token_id=None, pad_token_id=None)  # fmt: skip
FIXTURES = [HealthCheck.function_scoped_fixture]
LAYER_1_FC = "transformer.h.1.mlp.c_fc.weight"


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("good")
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(transformers.GPT2Config(**GPT2)).save_pretrained(folder)
    save_gpt2_bpe(
        BPETokenizer().train("the cat sat on the mat, the dog sat on the log. " * 20, 270), folder
    )
    return folder


@pytest.fixture
def copy(good: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(good, folder)
    return folder


def _edit_config(folder: Path, **changes: object) -> None:
    config = json.loads((folder / "config.json").read_text())
    for key, value in changes.items():
        if value is None:
            del config[key]
        else:
            config[key] = value
    (folder / "config.json").write_text(json.dumps(config))


def _edit_weights(folder: Path, edit) -> None:
    path = folder / "model.safetensors"
    tensors = dict(safetensors_torch.load_file(path))
    edit(tensors)
    safetensors_torch.save_file(tensors, path)


def _sample_error(folder: Path, capsys: pytest.CaptureFixture, *extra: str) -> str:
    """The sampling program on `folder` exits 2 with one error line (after the usage)."""
    with pytest.raises(SystemExit) as exit_info:
        sample.main(["--pretrained", str(folder), "--max-new-tokens", "2", *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_the_good_folder_loads(good: Path) -> None:
    assert from_pretrained(good).config.n_layer == 2


def test_a_cut_short_safetensors_file_is_named(copy: Path, capsys) -> None:
    data = (copy / "model.safetensors").read_bytes()
    (copy / "model.safetensors").write_bytes(data[: len(data) // 2])
    line = _sample_error(copy, capsys)
    assert f"{copy / 'model.safetensors'} is not a readable safetensors file" in line
    assert "download it again" in line


def test_config_json_missing_key_or_bad_value_is_named(copy: Path, capsys) -> None:
    _edit_config(copy, n_layer=None)
    line = _sample_error(copy, capsys)
    assert f"{copy / 'config.json'} lacks the key 'n_layer'" in line
    _edit_config(copy, n_layer="2")
    line = _sample_error(copy, capsys)
    assert f"{copy / 'config.json'} has a bad value: n_layer must be a positive integer" in line
    _edit_config(copy, n_layer=2, layer_norm_epsilon=-1e-5)
    assert "norm_eps must be a finite number >= 0, got -1e-05" in _sample_error(copy, capsys)
    (copy / "config.json").write_text("{not json")
    assert f"{copy / 'config.json'} is not valid JSON" in _sample_error(copy, capsys)


def test_shapes_that_disagree_with_config_are_named(copy: Path, capsys) -> None:
    _edit_config(copy, n_embd=64)
    line = _sample_error(copy, capsys)
    assert (
        f"the weights in {copy} do not fit its config.json: wte.weight has shape (270, 32)" in line
    )
    assert "config.json's sizes give (270, 64)" in line


def test_nan_weights_are_refused(copy: Path, capsys) -> None:
    def poison(tensors: dict) -> None:
        tensors[LAYER_1_FC] = tensors[LAYER_1_FC].clone()
        tensors[LAYER_1_FC][3, 4] = float("nan")

    _edit_weights(copy, poison)
    line = _sample_error(copy, capsys)
    assert f"{copy / 'model.safetensors'}: the tensor '{LAYER_1_FC}' holds nan" in line


def test_unused_tensors_are_refused_unless_allowed(copy: Path, capsys) -> None:
    _edit_config(copy, n_layer=1)  # layer 1's twelve tensors are then unused
    line = _sample_error(copy, capsys)
    assert "holds 12 tensor(s) this model does not use (transformer.h.1.attn.c_attn.bias" in line
    assert "pass allow_unused=True" in line
    assert from_pretrained(copy, allow_unused=True).config.n_layer == 1


def test_a_tied_head_saved_with_other_numbers_is_refused(copy: Path) -> None:
    def untie(tensors: dict) -> None:
        tensors["lm_head.weight"] = tensors["transformer.wte.weight"] + 1.0

    _edit_weights(copy, untie)
    with pytest.raises(
        PretrainedError, match=r"lm_head\.weight differs from transformer\.wte\.weight"
    ):
        from_pretrained(copy)

    def tie(tensors: dict) -> None:
        tensors["lm_head.weight"] = tensors["transformer.wte.weight"].clone()

    _edit_weights(copy, tie)
    model = from_pretrained(copy)  # a tied head saved with the embedding's numbers is fine
    assert model.lm_head.weight is model.wte.weight


def test_devices_this_machine_lacks_are_refused(good: Path, capsys) -> None:
    line = _sample_error(good, capsys, "--device", "meta")
    assert "device 'meta' holds shapes but no numbers" in line
    if not torch.cuda.is_available():
        assert "this machine has no CUDA" in _sample_error(good, capsys, "--device", "cuda")


# --- properties: damaged files give the loaders' own errors, never another ------------------

JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 300), st.floats(allow_nan=True),
    st.text(max_size=5), st.lists(st.integers(), max_size=2),
)  # fmt: skip
KEYS = ["vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "n_inner",
        "layer_norm_epsilon", "activation_function", "tie_word_embeddings",
        "model_type"]  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
@given(changes=st.dictionaries(st.sampled_from(KEYS), JSON_VALUES, min_size=1, max_size=3))
def test_any_config_damage_loads_or_gives_a_pretrained_error(
    good: Path, tmp_path_factory: pytest.TempPathFactory, changes: dict
) -> None:
    folder = tmp_path_factory.mktemp("config")
    shutil.copytree(good, folder, dirs_exist_ok=True)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))
    try:
        model = from_pretrained(folder)
    except PretrainedError as exc:
        assert str(folder) in str(exc)
    else:
        assert model.config.vocab_size == 270  # it loaded only what fits


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(cut=st.floats(0.0, 1.0), flip=st.integers(0, 2**32))
def test_any_cut_or_flipped_safetensors_loads_or_gives_a_pretrained_error(
    good: Path, tmp_path_factory: pytest.TempPathFactory, cut: float, flip: int
) -> None:
    folder = tmp_path_factory.mktemp("weights")
    shutil.copytree(good, folder, dirs_exist_ok=True)
    data = bytearray((good / "model.safetensors").read_bytes())
    data[flip % len(data)] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(data[: max(1, int(cut * len(data)))]))
    try:
        from_pretrained(folder)
    except PretrainedError as exc:
        assert str(folder) in str(exc)


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
@given(
    which=st.sampled_from(["vocab.json", "merges.txt"]),
    at=st.integers(0, 10**6),
    junk=st.text(max_size=6),
    cut=st.booleans(),
)
def test_any_damaged_tokenizer_file_loads_or_gives_a_value_error(
    good: Path, tmp_path_factory: pytest.TempPathFactory, which: str, at: int, junk: str,
    cut: bool,
) -> None:  # fmt: skip
    folder = tmp_path_factory.mktemp("tok")
    shutil.copytree(good, folder, dirs_exist_ok=True)
    text = (good / which).read_text(encoding="utf-8")
    at %= len(text)
    (folder / which).write_text(text[:at] + junk + ("" if cut else text[at:]), encoding="utf-8")
    try:
        tok = load_gpt2_bpe(folder / "vocab.json", folder / "merges.txt")
    except ValueError as exc:
        assert str(folder) in str(exc)
    else:
        assert tok.decode(tok.encode("the cat")) == "the cat"
