"""The checks every configured strategy and weighting passes, found from ``conf/``, never listed by hand.

``tests/test_strategies.py`` runs :data:`STRATEGY_CHECKS` on every ``conf/strategy/*.yaml``,
``tests/test_weighting.py`` runs :data:`WEIGHTING_CHECKS` on every ``conf/weighting/*.yaml``, and
``tests/test_recipes.py`` runs both on a strategy and a weighting added as ``docs/architecture.md`` says.
Adding a strategy or a weighting (one module + one YAML) therefore needs no edit of a test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from al_bert.outputs import InferenceRequest, Need, PoolOutputs
from al_bert.strategies.base import Strategy
from al_bert.weighting.base import Weighting

CONF = Path(__file__).resolve().parents[1] / "conf"


def configured(group: str, conf: Path = CONF) -> list[str]:
    """The options of config group ``group`` (``conf/<group>/*.yaml``), sorted."""
    return sorted(path.stem for path in (conf / group).glob("*.yaml"))


def separable(n: int, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two classes at ±μ, μ spread over all dimensions (like fine-tuned [CLS] vectors)."""
    y = np.arange(n) % 2
    mu = rng.choice([-1.0, 1.0], size=d)
    x = rng.normal(0.0, 0.3, size=(n, d)) + np.where(y[:, None] == 1, mu, -mu)
    return x.astype(np.float32), y


def pool_outputs() -> PoolOutputs:
    """A 300-row pool with every output any strategy or weighting can ask for."""
    rng = np.random.default_rng(0)
    n, d, t = 300, 16, 10
    lab_x, lab_y = separable(40, d, rng)
    pool = rng.normal(0.0, 1.5, size=(n, d)).astype(np.float32)
    return PoolOutputs(
        pool_positions=np.arange(n) + 1000,
        probs=rng.uniform(size=n),
        embeddings=pool,
        mc_probs=np.clip(rng.uniform(size=n)[None, :] + rng.normal(0, 0.1, (t, n)), 0, 1),
        expected_grad_norms=rng.uniform(size=n),
        labelled_positions=np.arange(40),
        labelled_embeddings=lab_x,
        labelled_labels=lab_y,
        surprisal=np.abs(rng.normal(size=(n, 12))).astype(np.float32) * (rng.random((n, 12)) < 0.3),
    )


# The PoolOutputs fields a Need fills besides the field of its own name (model/inference.py).
_EXTRA_FIELDS = {Need.LABELLED_EMBEDDINGS: ("labelled_positions", "labelled_labels")}


def restricted(outputs: PoolOutputs, request: InferenceRequest) -> PoolOutputs:
    """``outputs`` with only what ``request`` asks for, as the learner computes it."""
    keep = {"pool_positions"}
    for need in request.needs:
        keep |= {need.value, *_EXTRA_FIELDS.get(need, ())}
    fields = {f.name for f in dataclasses.fields(PoolOutputs)}
    assert keep <= fields, f"{sorted(keep - fields)}: a Need without a PoolOutputs field"
    return PoolOutputs(**{name: getattr(outputs, name) for name in keep})


# --------------------------------------------------------------------------- strategies


def check_returns_k_distinct_valid_rows_deterministically(
    strategy: Strategy, outputs: PoolOutputs
) -> None:
    w = np.ones(len(outputs))
    rows = strategy.select(outputs, w, 25, np.random.default_rng(7))
    assert rows.shape == (25,) and np.issubdtype(rows.dtype, np.integer)
    assert len(set(rows.tolist())) == 25
    assert rows.min() >= 0 and rows.max() < len(outputs)
    again = strategy.select(outputs, w, 25, np.random.default_rng(7))
    np.testing.assert_array_equal(rows, again)


def check_zero_weight_rows_are_never_selected(strategy: Strategy, outputs: PoolOutputs) -> None:
    rng = np.random.default_rng(1)
    unweighted = strategy.select(outputs, np.ones(len(outputs)), 30, np.random.default_rng(2))
    w = rng.uniform(0.5, 1.5, size=len(outputs))
    w[unweighted] = 0.0  # forbid exactly what the strategy wants most
    w[rng.choice(len(outputs), size=100, replace=False)] = 0.0
    rows = strategy.select(outputs, w, 30, np.random.default_rng(2))
    assert np.all(w[rows] > 0)
    assert len(set(rows.tolist())) == 30


def check_constant_weights_give_the_unweighted_selection(
    strategy: Strategy, outputs: PoolOutputs
) -> None:
    ones = strategy.select(outputs, np.ones(len(outputs)), 20, np.random.default_rng(3))
    scaled = strategy.select(outputs, np.full(len(outputs), 2.5), 20, np.random.default_rng(3))
    np.testing.assert_array_equal(ones, scaled)


def check_strategy_reads_only_what_it_requests(strategy: Strategy, outputs: PoolOutputs) -> None:
    """The learner computes only the request's outputs: the selection must not need any other."""
    w = np.ones(len(outputs))
    full = strategy.select(outputs, w, 20, np.random.default_rng(5))
    only = strategy.select(restricted(outputs, strategy.request), w, 20, np.random.default_rng(5))
    np.testing.assert_array_equal(full, only)


STRATEGY_CHECKS: tuple[Callable[[Strategy, PoolOutputs], None], ...] = (
    check_returns_k_distinct_valid_rows_deterministically,
    check_zero_weight_rows_are_never_selected,
    check_constant_weights_give_the_unweighted_selection,
    check_strategy_reads_only_what_it_requests,
)


# --------------------------------------------------------------------------- weightings


def check_one_finite_non_negative_weight_per_row(
    weighting: Weighting, outputs: PoolOutputs
) -> None:
    w = np.asarray(weighting(outputs))
    assert w.shape == (len(outputs),) and np.issubdtype(w.dtype, np.floating)
    assert np.all(np.isfinite(w)) and np.all(w >= 0)
    assert w.sum() > 0  # something stays selectable
    np.testing.assert_array_equal(w, weighting(outputs))


def check_weighting_reads_only_what_it_requests(weighting: Weighting, outputs: PoolOutputs) -> None:
    np.testing.assert_array_equal(
        weighting(outputs), weighting(restricted(outputs, weighting.request))
    )


WEIGHTING_CHECKS: tuple[Callable[[Weighting, PoolOutputs], None], ...] = (
    check_one_finite_non_negative_weight_per_row,
    check_weighting_reads_only_what_it_requests,
)


def check_id(check: Callable[..., None]) -> str:
    """A check's test id: its name without ``check_``."""
    return check.__name__.removeprefix("check_")


# --------------------------------------------------------------------------- docs/architecture.md's recipes


@dataclasses.dataclass(frozen=True)
class Example:
    """A strategy or weighting as a user adds it: ``al_bert/<package>/<module>.py`` + ``conf/<group>/<module>.yaml``."""

    package: str
    group: str
    module: str
    source: str
    config: str


EXAMPLE_STRATEGY = Example(
    package="strategies",
    group="strategy",
    module="most_positive",
    source='''"""Most positive first: top-k of w(x) · M(x) (the example of docs/architecture.md's recipe)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from al_bert.outputs import InferenceRequest, Need, PoolOutputs
from al_bert.strategies.base import ScoreStrategy


class MostPositive(ScoreStrategy):
    """The examples the model finds most likely positive."""

    name: ClassVar[str] = "most_positive"
    request: InferenceRequest = InferenceRequest(frozenset({Need.PROBS}))

    def score(self, outputs: PoolOutputs, rng: np.random.Generator) -> np.ndarray:
        return np.asarray(outputs.require("probs"), dtype=np.float64)
''',
    config="""# Most positive first: top-k of w(x) · M(x).
_target_: al_bert.strategies.most_positive.MostPositive
""",
)

EXAMPLE_WEIGHTING = Example(
    package="weighting",
    group="weighting",
    module="posprob_power",
    source='''"""w(x) = M(x)^exponent (the example of docs/architecture.md's recipe)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from al_bert.outputs import InferenceRequest, Need, PoolOutputs
from al_bert.validation import finite_number
from al_bert.weighting.base import Weighting


class PosProbPower(Weighting):
    """PosProb, sharpened (exponent > 1) or flattened (exponent < 1)."""

    name: ClassVar[str] = "posprob_power"
    request: InferenceRequest = InferenceRequest(frozenset({Need.PROBS}))

    def __init__(self, exponent: float = 2.0) -> None:
        self.exponent = finite_number("weighting.exponent", exponent, low=0.0, open_low=True)

    def __call__(self, outputs: PoolOutputs) -> np.ndarray:
        probs = np.clip(np.asarray(outputs.require("probs"), dtype=np.float64), 0.0, 1.0)
        return probs**self.exponent
''',
    config="""# w(x) = M(x)^exponent.
_target_: al_bert.weighting.posprob_power.PosProbPower
exponent: 2.0
""",
)
