"""llmbook.leafdata: the seeded leaf/flower data set and gradient descent by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from llmbook import leafdata, network


def test_same_seed_gives_the_same_objects():
    x1, l1 = leafdata.make_dataset(50, seed=3)
    x2, l2 = leafdata.make_dataset(50, seed=3)
    x3, _ = leafdata.make_dataset(50, seed=4)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(l1, l2)
    assert not np.array_equal(x1, x3)


def test_leaves_are_greenish_and_small_flowers_yellow_red_and_large():
    x, labels = leafdata.make_dataset(400, seed=0)
    assert x.shape == (400, 4) and (labels == leafdata.LEAF).sum() == 200
    leaves, flowers = x[labels == leafdata.LEAF], x[labels == leafdata.FLOWER]
    assert (leaves[:, 1] > leaves[:, 0]).mean() > 0.8  # green above red for most leaves
    assert (flowers[:, 0] > flowers[:, 2]).all()  # red above blue for every flower
    assert leaves[:, 3].mean() < 20 < flowers[:, 3].mean()
    assert x[:, :3].min() >= 0 and x[:, :3].max() <= 255
    np.testing.assert_array_equal(x[:, :3], x[:, :3].round())


def test_article_l1_loss_example_is_0_4():
    assert leafdata.loss(np.array([0.6, 0.4]), np.array([0.8, 0.2]), "l1") == pytest.approx(0.4)
    assert leafdata.loss(np.array([0.6, 0.4]), np.array([0.8, 0.2]), "squared") == pytest.approx(
        0.08
    )


def random_problem(seed=0):
    x, labels = leafdata.make_dataset(20, seed=seed)
    params = leafdata.init_params(seed)
    params["b1"] = np.array([0.1, -0.2, 0.3])
    params["b2"] = np.array([0.05, -0.05])
    return leafdata.scale(x), leafdata.targets(labels), params


@pytest.mark.parametrize("kind", leafdata.LOSSES)
def test_hand_gradients_match_torch_autograd(kind):
    x, wanted, params = random_problem()
    grads = leafdata.gradients(params, x, wanted, kind)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.from_numpy(x) @ tp["W1"].T + tp["b1"]
    y = h @ tp["W2"].T + tp["b2"]
    diff = y - torch.from_numpy(wanted)
    per_object = diff.abs() if kind == "l1" else diff**2
    per_object.sum(dim=1).mean().backward()
    for name, value in tp.items():
        np.testing.assert_allclose(grads[name], value.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", leafdata.LOSSES)
def test_hand_gradients_match_finite_differences(kind):
    x, wanted, params = random_problem(1)
    grads = leafdata.gradients(params, x, wanted, kind)
    eps = 1e-6
    for name in params:
        for index in np.ndindex(params[name].shape):
            up = {k: v.copy() for k, v in params.items()}
            down = {k: v.copy() for k, v in params.items()}
            up[name][index] += eps
            down[name][index] -= eps
            slope = (
                leafdata.loss(leafdata.forward(up, x)[1], wanted, kind)
                - leafdata.loss(leafdata.forward(down, x)[1], wanted, kind)
            ) / (2 * eps)
            assert slope == pytest.approx(grads[name][index], abs=1e-6)


def test_forward_without_biases_is_chapter_1_network():
    params = {"W1": network.W1, "b1": np.zeros(3), "W2": network.W2, "b2": np.zeros(2)}
    hidden, out = leafdata.forward(params, network.LEAF[None, :])
    np.testing.assert_allclose(out[0], network.forward(network.LEAF)[1])
    np.testing.assert_allclose(hidden[0], [-26.598, 2.522, -47.094], atol=5e-4)


def problem():
    x, labels = leafdata.make_dataset(200, seed=0)
    return leafdata.split(leafdata.scale(x), labels, 0.25, seed=0)


def test_gradient_descent_learns_to_tell_leaves_from_flowers():
    x_train, l_train, x_test, l_test = problem()
    assert (len(x_train), len(x_test)) == (150, 50)
    params, history = leafdata.train(x_train, l_train, epochs=200, lr=0.1, seed=1)
    assert len(history) == 201
    assert history[-1] < 0.15 < 1.0 < history[0]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(history))  # never goes up
    assert leafdata.accuracy(params, x_train, l_train) > 0.9
    assert leafdata.accuracy(params, x_test, l_test) > 0.9


def test_training_is_repeatable():
    x_train, l_train, _, _ = problem()
    run1 = leafdata.train(x_train, l_train, epochs=20, lr=0.1, seed=5, batch_size=16)
    run2 = leafdata.train(x_train, l_train, epochs=20, lr=0.1, seed=5, batch_size=16)
    assert run1[1] == run2[1]
    np.testing.assert_array_equal(run1[0]["W1"], run2[0]["W1"])


def test_mini_batches_take_several_steps_per_epoch():
    x_train, l_train, _, _ = problem()
    start = leafdata.init_params(2)
    _, full = leafdata.train(x_train, l_train, epochs=1, lr=0.05, params=start)
    _, batched = leafdata.train(x_train, l_train, epochs=1, lr=0.05, params=start, batch_size=10)
    assert batched[1] < full[1]  # 15 small steps get further than 1 step of the same size


def test_too_large_a_learning_rate_diverges_and_stops_early():
    x_train, l_train, _, _ = problem()
    _, history = leafdata.train(x_train, l_train, epochs=200, lr=0.5, seed=1)
    assert len(history) < 201
    assert not history[-1] < 1e6


def test_train_does_not_change_the_starting_params():
    x_train, l_train, _, _ = problem()
    start = leafdata.init_params(0)
    copy = {k: v.copy() for k, v in start.items()}
    leafdata.train(x_train, l_train, epochs=3, lr=0.1, params=start)
    for name in start:
        np.testing.assert_array_equal(start[name], copy[name])


def test_split_is_disjoint_and_complete():
    x, labels = leafdata.make_dataset(40, seed=0)
    x_train, _, x_test, _ = leafdata.split(x, labels, 0.25, seed=0)
    rows = {tuple(r) for r in x_train} | {tuple(r) for r in x_test}
    assert len(x_test) == 10 and len(rows) == 40


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "l3"}, "loss must be one of"),
        ({"lr": 0}, "lr must be a positive number"),
        ({"epochs": -1}, "epochs must be a whole number"),
    ],
)
def test_bad_training_settings_are_refused(kwargs, message):
    x_train, l_train, _, _ = problem()
    with pytest.raises(ValueError, match=message):
        leafdata.train(x_train, l_train, **kwargs)


@pytest.mark.parametrize("bad", [1, 0, 2.5, True])
def test_bad_dataset_size_is_refused(bad):
    with pytest.raises(ValueError, match="n must be an integer of at least 2"):
        leafdata.make_dataset(bad)
