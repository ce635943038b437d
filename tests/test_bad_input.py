"""Bad input, tried systematically.

The issue asks for "a property-based test (hypothesis) [that] draws overrides from every config group —
valid values, wrong types, out-of-range numbers, unknown names, empty and missing files — and checks each
either validates or fails before any data is read with one line naming the key, never a traceback; report
the number of cases it ran".

Each case is 1–3 overrides from distinct groups (plus the overrides a key needs, e.g. ``weighting=invprop``
for ``weighting.bins``). It is composed as the CLI composes it: Hydra's composition errors (unknown group
option or key, an override it cannot parse) are taken through :func:`~al_bert.config_groups.composition_errors`,
as ``al_bert.__main__.check_overrides`` takes them before Hydra starts (the CLI prints that one-line
``ConfigError`` and exits 2, where Hydra alone prints a dozen lines). It is then taken through what the app
does before it reads data: :func:`~al_bert.app.build_components`, :func:`~al_bert.app.launch_environment`
and the dataset builder. Built-in datasets' raw files are never read: the fetch functions are replaced by a
guard, and reaching the guard means the dataset config passed. A user file (``dataset=custom``) is read,
since only reading it tells an empty file from a good one. A case then must

* validate, or fail with an :class:`~al_bert.errors.AlBertError` whose message is one line and names
  the offending key (its last part or its group; for a file, the file's name) — any other exception,
  a raw Hydra / OmegaConf composition error included (Hydra prints those over a dozen lines), is the
  traceback the issue forbids;
* read no data while the groups are validated;
* not validate when one of its values is invalid (it would fail later, after the data were read).

Every violation is collected, so one run lists them all; the number of cases is printed (``-s``).
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from al_bert.app import build_components, launch_environment
from al_bert.config_groups import composition_errors, instantiate_group
from al_bert.data.fetch import FetchSettings
from al_bert.errors import AlBertError, one_line
from tests.conftest import CONF, compose_config

MAX_EXAMPLES = 200
BIG = 10**30
SEED_MAX = 2**32 - 1  # numpy's and Lightning's seed range
GARBAGE = "nonexistent"


def options(group: str) -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in (CONF / group).glob("*.yaml")))


# --------------------------------------------------------------------------- the keys


@dataclass(frozen=True)
class Key:
    """One overridable key, what it accepts, and the overrides it needs (``{files}``: the test's files)."""

    path: str
    kind: str  # int | float | choice | bool | option | file | values
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    nullable: bool = False
    choices: tuple[Any, ...] = ()
    needs: tuple[str, ...] = ()
    values: tuple[tuple[Any, bool], ...] = ()  # kind=values: (value, must fail)

    @property
    def group(self) -> str:
        """At most one key per group in a case (a second would fight over the same group option)."""
        head = self.path.lstrip("+").split(".")[0]
        return {"seed_builder": "scenario", "seed": "run", "limit": "run"}.get(head, head)


def ints(
    path: str,
    low: int,
    *,
    high: int | None = None,
    nullable: bool = False,
    needs: tuple[str, ...] = (),
) -> Key:
    return Key(path, "int", low=low, high=high, nullable=nullable, needs=needs)


def floats(
    path: str,
    low: float,
    *,
    high: float | None = None,
    nullable: bool = False,
    low_open: bool = False,
    high_open: bool = False,
    needs: tuple[str, ...] = (),
) -> Key:
    return Key(
        path,
        "float",
        low=low,
        high=high,
        nullable=nullable,
        low_open=low_open,
        high_open=high_open,
        needs=needs,
    )


def choice(
    path: str, choices: tuple[Any, ...], *, nullable: bool = False, needs: tuple[str, ...] = ()
) -> Key:
    return Key(path, "choice", choices=choices, nullable=nullable, needs=needs)


def flag(path: str, *, needs: tuple[str, ...] = ()) -> Key:
    return Key(path, "bool", needs=needs)


def option(group: str, *, plus: bool = False) -> Key:
    return Key(f"{'+' if plus else ''}{group}", "option", choices=options(group))


def unknown_keys(group: str, *, needs: tuple[str, ...] = ()) -> tuple[Key, Key]:
    """A misspelt key, set (``group.key=1``: Hydra refuses it) and added (``+group.key=1``)."""
    path, refused = f"{group}.{GARBAGE}_key", ((1, True),)
    set_key = Key(path, "values", values=refused, needs=needs)
    return set_key, replace(set_key, path=f"+{path}")


BACKENDS = ("auto", "faiss-gpu", "faiss-cpu", "torch")
ALPS, BADGE, CORE_SET = ("strategy=alps",), ("strategy=badge",), ("strategy=core_set",)
DAL, EGL, MC = ("strategy=dal",), ("strategy=egl",), ("strategy=mc_dropout",)
PE = ("strategy=perceptron_ensemble",)
WIKI = ("dataset=wiki_attack",)
CUSTOM = ("dataset=custom", "dataset.path={files}/valid.csv", "dataset.positive_class=spam")
FILES = ("valid.csv", "empty.csv", "missing.csv", "no_label.csv", "header_only.csv")

KEYS: tuple[Key, ...] = (
    # strategy
    option("strategy"),
    *unknown_keys("strategy"),
    ints("strategy.n_iter", 1, needs=ALPS),
    ints("strategy.n_init", 1, needs=ALPS),
    choice("strategy.backend", BACKENDS, needs=ALPS),
    choice("strategy.first", ("max_norm", "sample"), needs=BADGE),
    choice("strategy.backend", BACKENDS, needs=BADGE),
    choice("strategy.backend", BACKENDS, needs=CORE_SET),
    Key(
        "strategy.hidden_sizes",
        "values",
        needs=DAL,
        values=(
            ([16, 8], False),
            (None, False),
            ([0], True),
            ([-4, 8], True),
            ("abc", True),
        ),
    ),
    floats("strategy.lr", 0, low_open=True, needs=DAL),
    ints("strategy.batch_size", 1, needs=DAL),
    ints("strategy.max_epochs", 1, needs=DAL),
    # Training stops once the accuracy exceeds it: 0 would stop after any first epoch (max_epochs=1).
    floats("strategy.stop_accuracy", 0, high=1, low_open=True, needs=DAL),
    flag("strategy.class_balanced", needs=DAL),
    ints("strategy.sub_batches", 1, needs=DAL),
    floats("strategy.unlabelled_ratio", 0, low_open=True, nullable=True, needs=DAL),
    choice("strategy.gradient", ("full_model", "last_layer"), needs=EGL),
    flag("strategy.include_bias", needs=EGL),
    ints("strategy.mc_passes", 1, needs=MC),
    choice("strategy.acquisition", ("entropy", "bald"), needs=MC),
    ints("strategy.n_members", 1, needs=PE),
    ints("strategy.epochs", 0, needs=PE),
    ints("strategy.batch_size", 1, needs=PE),
    floats("strategy.lr", 0, low_open=True, needs=PE),
    floats("strategy.input_dropout", 0, high=1, high_open=True, needs=PE),
    flag("strategy.class_balanced", needs=PE),
    flag("strategy.bootstrap", needs=PE),
    # weighting
    option("weighting"),
    *unknown_keys("weighting", needs=("weighting=invprop",)),
    ints("weighting.bins", 1, needs=("weighting=invprop",)),
    # scenario and its seed builder
    option("scenario"),
    option("seed_builder"),
    *unknown_keys("seed_builder"),
    ints("seed_builder.size", 1, needs=("scenario=balanced",)),
    ints("seed_builder.positives", 1, needs=("scenario=imbalanced",)),
    ints("seed_builder.weak_negatives", 0, needs=("scenario=imbalanced",)),
    ints("seed_builder.size", 1),  # the default scenario's query seed
    ints("seed_builder.weak_negatives", 0),
    ints("seed_builder.per_class", 1, needs=("scenario=warm_start",)),
    # trainer
    option("trainer"),
    *unknown_keys("trainer"),
    ints("trainer.max_epochs", 1),
    floats("trainer.lr", 0, low_open=True),
    ints("trainer.batch_size", 1),
    ints("trainer.eval_batch_size", 1),
    ints("trainer.max_length", 8),
    flag("trainer.select_best_on_dev"),
    floats(
        "trainer.oversample_positives_to", 0, high=1, low_open=True, high_open=True, nullable=True
    ),
    floats("trainer.weight_decay", 0),
    floats("trainer.warmup_ratio", 0, high=1, high_open=True),
    floats("trainer.adam_epsilon", 0, low_open=True),
    floats("trainer.max_grad_norm", 0, low_open=True, nullable=True),
    choice("trainer.precision", ("auto", "bf16", "32")),
    choice("trainer.inference_precision", ("auto", "bf16", "32")),
    choice("trainer.accelerator", ("auto", "cpu", "gpu", "cuda")),
    # model
    option("model"),
    *unknown_keys("model"),
    choice("model.pooling", ("pooler", "cls", "mean")),
    floats("model.head_lr", 0, low_open=True, nullable=True),
    floats("model.dropout", 0, high=1, high_open=True),
    ints("model.num_hidden_layers", 1, high=6, nullable=True),  # MiniLM-L6 has 6 layers
    # al
    *unknown_keys("al"),
    ints("al.iterations", 0),
    ints("al.batch_size", 1),
    # run-level numbers
    ints("seed", 0, high=SEED_MAX),
    ints("limit.train", 1, nullable=True),
    ints("limit.eval", 1, nullable=True),
    *unknown_keys("limit"),
    # dataset: built-in tasks (their raw files are never read here)
    option("dataset"),
    *unknown_keys("dataset"),
    choice("dataset.name", ("trec",)),  # another task would need its positive_class too
    choice("dataset.split", ("paper", "seeded")),
    choice("dataset.lrtc_rows", ("home", "redirected")),
    choice("dataset.positive_class", ("LOC", "HUM", "NUM", "location"), nullable=True),
    floats("dataset.imbalance_ratio", 1, nullable=True),
    ints("dataset.seed", 0),
    choice("dataset.query.kind", ("substring", "word")),
    Key(
        "dataset.query.pattern",
        "values",
        needs=WIKI,
        values=(
            ("[A-Z]!", False),
            ("[", True),
            ("", True),
        ),
    ),
    # dataset: the user's own file
    Key("dataset.path", "file", needs=("dataset=custom", "dataset.positive_class=spam")),
    choice("dataset.positive_class", ("spam", "ham"), needs=CUSTOM[:2]),
    choice("dataset.text_column", ("text",), needs=CUSTOM),
    choice("dataset.label_column", ("label",), needs=CUSTOM),
    # the remaining groups: option names only (their keys are read after the data)
    option("logger"),
    option("experiment", plus=True),
    option("launcher", plus=True),
)
GROUPS = {key.group for key in KEYS}


# --------------------------------------------------------------------------- the values


@dataclass(frozen=True)
class Drawn:
    """One override of a case: its key, value, what kind of value it is and whether it must fail."""

    key: Key
    value: Any
    kind: str
    must_fail: bool


def _numbers(key: Key) -> st.SearchStrategy[tuple[Any, str, bool]]:
    assert key.low is not None
    low, high, is_int = key.low, key.high, key.kind == "int"

    def invalid(x: float) -> bool:
        below = x < low or (key.low_open and x == low)
        above = high is not None and (x > high or (key.high_open and x == high))
        return math.isnan(x) or below or above or (not is_int and math.isinf(x))

    if is_int:
        valid: st.SearchStrategy[Any] = st.integers(int(low), int(high or low + 10_000))
        edges: list[Any] = [int(low) - 1, -1, -(10**6), BIG]
        wrong: list[Any] = ["abc", [1, 2], 2.5]
    else:
        valid = st.floats(
            low,
            high if high is not None else low + 1000.0,
            exclude_min=key.low_open,
            exclude_max=key.high_open,
        )
        edges = [low - 1.0, low, -1.0, 1e300, math.nan, math.inf, -math.inf]
        if high is not None:
            edges += [high, high + 1.0]
        wrong = ["abc", [1, 2]]
    return st.one_of(
        valid.map(lambda v: (v, "valid", False)),
        st.sampled_from(edges).map(lambda v: (v, "out of range", invalid(v))),
        st.sampled_from([*wrong, None]).map(
            lambda v: (v, "wrong type", not (v is None and key.nullable))
        ),
    )


def _values(key: Key) -> st.SearchStrategy[tuple[Any, str, bool]]:
    if key.kind in ("int", "float"):
        return _numbers(key)
    if key.kind == "values":
        return st.sampled_from(key.values).map(lambda v: (v[0], "listed", v[1]))
    if key.kind == "file":
        return st.sampled_from([*FILES, None, 3]).map(lambda v: (v, "file", v != "valid.csv"))
    valid = (True, False) if key.kind == "bool" else key.choices
    wrong = ("abc", 2, None) if key.kind == "bool" else ([valid[0]], 3, None)
    strategies = [
        st.sampled_from(valid).map(lambda v: (v, "valid", False)),
        st.just((GARBAGE, "unknown name", True)),
    ]
    if key.kind != "option":
        strategies.append(
            st.sampled_from(wrong).map(
                lambda v: (v, "wrong type", v is not None or not key.nullable)
            )
        )
    return st.one_of(strategies)


def drawn(key: Key) -> st.SearchStrategy[Drawn]:
    return _values(key).map(lambda v: Drawn(key, v[0], v[1], v[2]))


CASES = st.lists(
    st.sampled_from(KEYS).flatmap(drawn), min_size=1, max_size=3, unique_by=lambda d: d.key.group
)


def render(value: Any) -> str:
    """``value`` in Hydra's override grammar (strings always quoted)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)  # 1e-05, nan, inf, -inf: all in Hydra's grammar
    if isinstance(value, list):
        return "[" + ",".join(render(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def overrides(case: list[Drawn], files: Path) -> list[str]:
    out: list[str] = []
    for d in case:
        out += [need.format(files=files) for need in d.key.needs]
        if d.key.kind == "option":
            out.append(f"{d.key.path}={d.value}")
        elif d.key.kind == "file" and isinstance(d.value, str):
            out.append(f"{d.key.path}={render(str(files / d.value))}")
        else:
            out.append(f"{d.key.path}={render(d.value)}")
    return out


# --------------------------------------------------------------------------- running one case


class DataRead(BaseException):
    """Raised where raw data would be read (a BaseException, so no ``except Exception`` hides it)."""


def _refuse(*_args: Any, **_kwargs: Any) -> Any:
    raise DataRead


@contextlib.contextmanager
def no_data(*, user_files: bool) -> Iterator[None]:
    """Built-in datasets' files (and, unless ``user_files``, custom files) raise :class:`DataRead`."""
    targets = ["fetch.resolve", "readers.resolve", "catalog.resolve", "catalog.read_source"]
    with pytest.MonkeyPatch.context() as patch:
        for target in targets + ([] if user_files else ["custom._read_table"]):
            patch.setattr(f"al_bert.data.{target}", _refuse)
        yield


def names(override: str) -> set[str]:
    """What a message may name to point at ``override``: its key's last part and group, a file."""
    key, _, value = override.lstrip("+~").partition("=")
    parts = key.split(".")
    found = {parts[0], parts[-1]}
    if key == "dataset.path" and value.strip("'\""):
        found.add(Path(value.strip("'\"")).name)
    return found


def judge(error: Exception, case: list[str]) -> str | None:
    """None when ``error`` is the one-line, key-naming failure the issue asks for; else what is wrong."""
    text = str(error)
    if not isinstance(error, AlBertError):
        return f"{type(error).__name__} (not an AlBertError): {one_line(error)}"
    if "\n" in text.strip() or not text.strip():
        return f"{type(error).__name__}, not one line: {one_line(error)}"
    wanted = set().union(*(names(o) for o in case))
    if not any(name.lower() in text.lower() for name in wanted):
        return f"{type(error).__name__} names none of {sorted(wanted)}: {one_line(error)}"
    return None


def run_case(case: list[str], must_fail: bool, root: Path) -> str | None:
    """What the app does before reading data; returns the violation, if any."""
    try:
        with composition_errors():  # as the CLI composes (al_bert.__main__.check_overrides)
            cfg = compose_config(case, root=root)
    except Exception as error:
        return judge(error, case)
    try:
        with no_data(user_files=False):
            launch_environment(build_components(cfg)["training"])
    except DataRead:
        return "read data while validating the config groups"
    except Exception as error:
        return judge(error, case)
    try:
        with no_data(user_files=True):
            fetch = FetchSettings(**cfg.paths.get("data", {}))
            instantiate_group(cfg.dataset, "dataset", fetch=fetch)
    except DataRead:
        pass  # the dataset config passed: the next step reads the built-in files
    except Exception as error:
        return judge(error, case)
    return (
        "accepted an invalid value (fails, if at all, after data are read)" if must_fail else None
    )


def write_files(folder: Path) -> Path:
    """The custom-dataset files: a good one, an empty one, one without the label column, headers only."""
    folder.mkdir()
    rows = "\n".join(f"message number {i},{'spam' if i % 3 == 0 else 'ham'}" for i in range(60))
    (folder / "valid.csv").write_text(f"text,label\n{rows}\n")
    (folder / "empty.csv").write_text("")
    (folder / "no_label.csv").write_text("text,kind\nhello,spam\nbye,ham\n")
    (folder / "header_only.csv").write_text("text,label\n")
    return folder


# --------------------------------------------------------------------------- the test


def test_every_override_validates_or_fails_early_on_one_line_naming_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    files = write_files(tmp_path / "files")
    alone: dict[str, str | None] = {}  # one override (with what it needs) -> its violation
    violations: dict[str, str] = {}
    ran: Counter[str] = Counter()

    def check_alone(d: Drawn) -> str | None:
        case = overrides([d], files)
        key = " ".join(case)
        if key not in alone:
            alone[key] = run_case(case, d.must_fail, tmp_path / "out")
            if alone[key] is not None:
                violations[key] = f"[{d.kind}] {alone[key]}"
        return alone[key]

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=CASES)
    def check(case: list[Drawn]) -> None:
        ran.update(d.key.group for d in case)
        ran["cases"] += 1
        if len(case) == 1:
            check_alone(case[0])
            return
        combined = overrides(case, files)
        problem = run_case(combined, any(d.must_fail for d in case), tmp_path / "out")
        # Name the override at fault; a problem none of them has alone is the combination's.
        if problem is not None and all([check_alone(d) is None for d in case]):
            violations[" ".join(combined)] = f"[together] {problem}"

    check()
    print(f"\n{ran['cases']} cases, {len(violations)} violations; cases per group: {dict(ran)}")
    assert ran["cases"] >= MAX_EXAMPLES * 0.9
    assert set(ran) >= GROUPS, f"groups never drawn: {GROUPS - set(ran)}"
    listing = "\n".join(
        f"{o.replace(str(files), '<files>')}\n    -> {v}" for o, v in sorted(violations.items())
    )
    assert not violations, f"{len(violations)} overrides violate the contract:\n{listing}"
