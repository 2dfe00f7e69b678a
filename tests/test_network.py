"""llmbook.network: the article's leaf/flower network and its numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmbook import network


def test_leaf_forward_pass_matches_article():
    hidden, output = network.forward(network.LEAF)
    np.testing.assert_allclose(hidden, [-26.598, 2.522, -47.094], atol=5e-4)
    np.testing.assert_allclose(output, [0.796, 0.251], atol=5e-4)
    assert network.classify(output) == "leaf"


def test_sunflower_is_a_flower():
    _, output = network.forward(network.SUNFLOWER)
    np.testing.assert_allclose(output, [0.399, 0.993], atol=5e-4)
    assert network.classify(output) == "flower"


def test_bias_on_top_neuron_gives_minus_26_348():
    hidden, _ = network.forward(network.LEAF, b1=np.array([0.25, 0, 0]))
    assert round(hidden[0], 3) == -26.348


def test_two_linear_layers_collapse_to_one_matrix():
    collapsed = network.W2 @ network.W1
    assert (round(collapsed[0, 0], 4), round(collapsed[0, 1], 4)) == (-0.0062, 0.0088)
    both = np.stack([network.LEAF, network.SUNFLOWER])
    np.testing.assert_allclose(both @ collapsed.T, network.forward(both)[1])


def test_relu_without_retraining_misclassifies_the_sunflower():
    _, output = network.forward(network.SUNFLOWER, activation=True)
    np.testing.assert_allclose(output, [11.154, -3.432], atol=5e-4)
    assert network.classify(output) == "leaf"


def test_forward_matches_torch_linear_layers():
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 3, bias=False, dtype=torch.float64),
        torch.nn.Linear(3, 2, bias=False, dtype=torch.float64),
    )
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(network.W1))
        model[1].weight.copy_(torch.from_numpy(network.W2))
        expected = model(torch.from_numpy(network.LEAF)).numpy()
    np.testing.assert_allclose(network.forward(network.LEAF)[1], expected)


@pytest.mark.parametrize("bad", [[1, 2, 3], [[1, 2, 3, 4, 5]], [1, 2, float("nan"), 4]])
def test_bad_input_shapes_raise_value_error(bad):
    with pytest.raises(ValueError, match=r"4 numbers|finite"):
        network.forward(bad)


def test_non_numeric_input_raises_type_error():
    with pytest.raises(TypeError, match="4 numbers"):
        network.forward(["red", "green", "blue", "big"])
