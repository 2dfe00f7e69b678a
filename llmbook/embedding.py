"""Embeddings by hand: the embedding matrix as a lookup table, one-hot vectors, a 2-D view.

Built in chapter 4, "Embeddings".

The article draws the embedding matrix with **one column per character** (or token): with
vectors of length C and V characters it has C rows and V columns, and a character's vector is
its column. PyTorch's ``nn.Embedding`` stores the same numbers the other way round, one *row*
per character, shape (V, C); ``matrix.T`` turns one into the other.

- :func:`one_hot`: an id as a vector of V numbers, all 0 except a 1 at the id;
- :func:`lookup`: the columns of given ids (the same as the matrix times their one-hot vectors);
- :func:`window_input`: a window of ids as one input vector, the columns side by side
  (12 characters x 10 numbers = the article's 120 inputs);
- :func:`pca`: the best 2-D (or k-D) view of a set of vectors, by principal component analysis.

Ids count from 0 here, as in Python; the a=1 ... z=26 codes of :mod:`llmbook.chars` are ids
plus one.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np


def _matrix(matrix: object) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(f"an embedding matrix must be 2-D (C, V), got shape {matrix.shape}")
    return matrix


def _ids(ids: Sequence[int] | np.ndarray, vocab_size: int) -> np.ndarray:
    if isinstance(ids, str | bytes):
        raise TypeError(f"ids must be a sequence of integers, got {type(ids).__name__} {ids!r}")
    checked = []
    for position, i in enumerate(np.asarray(ids).reshape(-1).tolist()):
        try:
            k = operator.index(i)
        except TypeError:
            k = None
        if k is None or isinstance(i, bool):
            raise TypeError(f"id at position {position} must be an integer, got {i!r}")
        if not 0 <= k < vocab_size:
            raise ValueError(
                f"id {k} at position {position} is outside the vocabulary (0 to {vocab_size - 1})"
            )
        checked.append(k)
    return np.array(checked, dtype=int)


def one_hot(ids: Sequence[int] | np.ndarray, vocab_size: int) -> np.ndarray:
    """One row per id: ``vocab_size`` zeros with a 1 at the id. Shape (T, V).

    >>> one_hot([2, 0], 4).tolist()
    [[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]]
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
        raise ValueError(f"vocab_size must be a positive integer, got {vocab_size!r}")
    ids = _ids(ids, vocab_size)
    out = np.zeros((len(ids), vocab_size))
    out[np.arange(len(ids)), ids] = 1.0
    return out


def lookup(matrix: np.ndarray, ids: Sequence[int] | np.ndarray) -> np.ndarray:
    """The columns of ``matrix`` (C, V) for ``ids``, one vector per row: shape (T, C).

    Equal to ``(matrix @ one_hot(ids, V).T).T``: multiplying the matrix by a one-hot vector
    adds up its columns with weights 0 and one weight 1, which leaves exactly that column.

    >>> lookup([[1, 2, 3], [4, 5, 6]], [2, 0]).tolist()
    [[3.0, 6.0], [1.0, 4.0]]
    """
    matrix = _matrix(matrix)
    return matrix[:, _ids(ids, matrix.shape[1])].T  # (C, T) -> (T, C)


def window_input(matrix: np.ndarray, ids: Sequence[int] | np.ndarray) -> np.ndarray:
    """The input layer for a window: the ids' columns one after another, shape (T * C,).

    The first C numbers are the first id's vector, the next C the second's, and so on; for the
    article's 12-character window and vectors of 10 numbers that is 120 inputs.
    """
    return lookup(matrix, ids).reshape(-1)  # (T, C) -> (T * C,)


def pca(vectors: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Principal component analysis of ``vectors`` (N, D): the k directions of largest spread.

    Returns ``(coords, directions, share)``: the centred vectors' coordinates along the
    directions (N, k), the directions as unit rows (k, D), and the share of the total variance
    each direction explains (k,). Computed from the eigenvectors of the covariance matrix;
    each direction's sign is fixed so that its largest entry (in size) is positive, which makes
    the result unique.
    """
    vectors = np.asarray(vectors, dtype=float)
    if vectors.ndim != 2 or vectors.shape[0] < 2:
        raise ValueError(f"pca needs at least 2 vectors as an (N, D) array, got {vectors.shape}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= vectors.shape[1]:
        raise ValueError(f"k must be an integer from 1 to {vectors.shape[1]}, got {k!r}")
    centred = vectors - vectors.mean(axis=0)  # (N, D)
    covariance = centred.T @ centred / (len(vectors) - 1)  # (D, D)
    variances, eigenvectors = np.linalg.eigh(covariance)  # ascending order
    order = np.argsort(variances)[::-1][:k]
    directions = eigenvectors[:, order].T  # (k, D)
    largest = np.abs(directions).argmax(axis=1)
    directions *= np.sign(directions[np.arange(k), largest])[:, None]
    share = variances[order] / variances.sum()
    return centred @ directions.T, directions, share  # (N, k), (k, D), (k,)
