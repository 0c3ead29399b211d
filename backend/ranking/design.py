"""Outcomes as arrays: the design of the (weighted) logistic regression behind Bradley–Terry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from backend.ranking.types import STYLE_FEATURE_NAMES, Outcome

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class Design:
    """Row i is outcome i: model indices, model A's score and the style differences."""

    models: tuple[str, ...]
    index_a: IntArray
    index_b: IntArray
    score_a: FloatArray  # 1, 0.5 or 0: ties and "both bad" are half a win each side
    style: FloatArray  # (n, len(style_names)); zero columns when style control is off
    style_names: tuple[str, ...]
    cluster: IntArray  # cluster number of each row, 0..n_clusters-1

    @property
    def n(self) -> int:
        return int(self.score_a.shape[0])

    @property
    def n_clusters(self) -> int:
        return int(self.cluster.max()) + 1 if self.n else 0


def normalized_difference(a: FloatArray, b: FloatArray) -> FloatArray:
    """(a - b) / (a + b), 0 where both are 0: LMArena's scale-free style difference in [-1, 1].

    Relative rather than absolute differences, so "300 vs 600 tokens" and "30 vs 60 headers"
    weigh alike and one very long answer cannot dominate the fit.
    """
    total = a + b
    out = np.zeros_like(total)
    np.divide(a - b, total, out=out, where=total > 0)
    return out


def build_design(outcomes: Sequence[Outcome], *, style_control: bool) -> Design:
    """Arrays for a fit. With style control every outcome must carry both sides' features.

    Style columns with no variation at all (say, no answer ever used bold) are left out: their
    coefficient is not identified and reporting it as 0 ± 0 would mislead.
    """
    position: dict[str, int] = {}
    for o in outcomes:
        position.setdefault(o.model_a, 0)
        position.setdefault(o.model_b, 0)
    models = tuple(sorted(position))
    position = {m: i for i, m in enumerate(models)}
    n = len(outcomes)
    # One pass in Python over the outcomes, the rest in numpy: this is most of a fit's time.
    a_list: list[int] = []
    b_list: list[int] = []
    y_list: list[float] = []
    c_list: list[int] = []
    cluster_ids: dict[object, int] = {}
    for i, o in enumerate(outcomes):
        a_list.append(position[o.model_a])
        b_list.append(position[o.model_b])
        y_list.append(o.score_a)
        key: object = o.cluster if o.cluster is not None else i  # its own cluster when none given
        c_list.append(cluster_ids.setdefault(key, len(cluster_ids)))
    index_a = np.array(a_list, dtype=np.intp)
    index_b = np.array(b_list, dtype=np.intp)
    score_a = np.array(y_list, dtype=np.float64)
    cluster = np.array(c_list, dtype=np.intp)

    if not style_control:
        return Design(models, index_a, index_b, score_a, np.zeros((n, 0)), (), cluster)
    features_a = np.zeros((n, len(STYLE_FEATURE_NAMES)))
    features_b = np.zeros((n, len(STYLE_FEATURE_NAMES)))
    for i, o in enumerate(outcomes):
        if o.style_a is None or o.style_b is None:
            raise ValueError("style control needs style features on both sides of every outcome")
        features_a[i] = o.style_a.as_tuple()
        features_b[i] = o.style_b.as_tuple()
    diff = normalized_difference(features_a, features_b)
    keep = [j for j in range(diff.shape[1]) if np.any(diff[:, j] != 0.0)]
    names = tuple(STYLE_FEATURE_NAMES[j] for j in keep)
    return Design(models, index_a, index_b, score_a, diff[:, keep], names, cluster)
