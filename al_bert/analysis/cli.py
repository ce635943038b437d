"""``python -m al_bert.analysis <target> --runs <dir> --out outputs/tables``: the papers' tables/figures.

Targets (paper 1 = Ein-Dor et al. 2020, paper 2 = Fairstein et al.):

- ``figure-ein-dor-1``: learning curves (Figures 1/3: accuracy or F1; 4: precision; 5: recall)
- ``figure-ein-dor-2``: diversity and representativeness (Figure 2) and the batch-overlap table
- ``table-ein-dor-2``: selection runtime; ``table-ein-dor-3``: Wilcoxon p-values (and all pairs)
- ``table-ein-dor-overlap``: batch overlap between strategies at iteration 1
- ``table-fairstein-2`` … ``table-fairstein-6``, ``table-fairstein-11`` (also writes Table 12)
- ``compare``: the sweep comparison (:mod:`.compare`): one row per configuration vs ``--baseline`` on
  ``--metric``; ``--figures`` adds learning curves vs train size and vs compute seconds
- ``all``: every target the loaded runs can make (the others are reported and skipped)

Each target writes ``<name>.md`` + ``<name>.csv`` (+ ``<name>.png`` for figures) under ``--out``. With
``--wandb`` (or ``AL_BERT_ANALYSIS_WANDB=1``) the tables and images are also logged to one W&B run
(offline unless ``WANDB_MODE=online``) of job type ``analysis``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from al_bert.analysis import compare, figures, tables
from al_bert.analysis.aggregate import load_results
from al_bert.analysis.tables import AnalysisError, Table, markdown_table

log = logging.getLogger("al_bert.analysis")

Output = tuple[list[Table], dict[str, Path]]


def curves_table(
    frame: pd.DataFrame, metric: Callable[[str], str] | str, name: str, title: str
) -> Table:
    """The numbers behind a learning-curve figure, and a markdown summary of the last iteration."""
    rows = frame[frame["weighting"] == "uniform"]
    records = []
    for (scenario, variant, strategy), runs in rows.groupby(["scenario", "variant", "strategy"]):
        column = metric(str(scenario)) if callable(metric) else metric
        points = figures.curve_points(runs, column)
        for p in points.to_dict("records"):
            records.append(
                {
                    "scenario": scenario,
                    "dataset": variant,
                    "strategy": strategy,
                    "metric": column,
                    "iteration": p["iteration"],
                    "train_size": p["train_size"],
                    "mean": p["mean"],
                    "ci_low": p["low"],
                    "ci_high": p["high"],
                    "seeds": p["seeds"],
                }
            )
    data = pd.DataFrame(records)
    last = data.loc[data.groupby(["scenario", "dataset", "strategy"])["iteration"].idxmax()]
    md_rows = [
        [
            str(r["scenario"]),
            str(r["dataset"]),
            str(r["strategy"]),
            str(r["metric"]),
            f"{r['train_size']:.0f}",
            f"{r['mean']:.4f} [{r['ci_low']:.4f}, {r['ci_high']:.4f}]",
            str(r["seeds"]),
        ]
        for r in last.to_dict("records")
    ]
    md = markdown_table(
        ["scenario", "dataset", "strategy", "metric", "train size", "mean [95% CI]", "seeds"],
        md_rows,
    )
    return Table(name, title, data, md, ["Last iteration per curve; the CSV holds every point."])


def make_figure_ein_dor_1(frame: pd.DataFrame, out: Path, args: argparse.Namespace) -> Output:
    """Figures 1/3 (accuracy or F1), 4 (precision) and 5 (recall) of paper 1."""
    specs: list[tuple[str, Callable[[str], str] | str, str]] = [
        (
            "figure-ein-dor-1",
            tables.paper1_metric,
            "Paper 1 Figures 1/3: AL strategies vs Random (accuracy if balanced, else F1)",
        ),
        ("figure-ein-dor-4", "precision", "Paper 1 Figure 4: precision of AL strategies vs Random"),
        ("figure-ein-dor-5", "recall", "Paper 1 Figure 5: recall of AL strategies vs Random"),
    ]
    made, images = [], {}
    for name, metric, title in specs:
        fig = figures.learning_curves(frame, metric, title, strategies=args.strategies)
        images[name] = figures.save(fig, out / f"{name}.png")
        made.append(curves_table(frame, metric, name, title))
    return made, images


def make_figure_ein_dor_2(frame: pd.DataFrame, out: Path, args: argparse.Namespace) -> Output:
    """Figure 2 of paper 1 and the batch overlap of §5."""
    images = {
        "figure-ein-dor-2": figures.save(
            figures.batch_properties(frame), out / "figure-ein-dor-2.png"
        )
    }
    made = [tables.batch_property_table(frame)]
    try:
        overlap = tables.ein_dor_overlap(frame)
    except AnalysisError as error:
        log.warning("%s", error)
    else:
        made.append(overlap)
        images[overlap.name] = figures.save(
            figures.overlap_heatmap(overlap.data), out / f"{overlap.name}.png"
        )
    return made, images


def make_compare(frame: pd.DataFrame, out: Path, args: argparse.Namespace) -> Output:
    """The sweep comparison (compare.md, compare.csv; with ``--figures`` its two curve figures)."""
    table = compare.compare_table(frame, metric=args.metric, baseline=args.baseline)
    images: dict[str, Path] = {}
    if args.figures:
        images = compare.write_figures(frame, table, out, args.baseline)
    return [table], images


def _only(builder: Callable[[pd.DataFrame], Table | list[Table]]) -> Callable[..., Output]:
    def make(frame: pd.DataFrame, out: Path, args: argparse.Namespace) -> Output:
        built = builder(frame)
        return (built if isinstance(built, list) else [built]), {}

    return make


def _weighting(
    number: int, by: str, weightings: Sequence[str], ratios: Sequence[float], best: bool = False
) -> Callable[..., Output]:
    titles = {
        2: "Paper 2 Table 2: weightings per dataset (best algorithm per dataset variant)",
        3: "Paper 2 Table 3: weightings per AL algorithm",
        4: "Paper 2 Table 4: InvProp vs Uniform per imbalance ratio",
        5: "Paper 2 Table 5: InvProp vs PosProb per imbalance ratio",
        6: "Paper 2 Table 6: the three weightings at extreme imbalance ratios",
    }

    def make(frame: pd.DataFrame, out: Path, args: argparse.Namespace) -> Output:
        table = tables.weighting_comparison(
            frame,
            name=f"table-fairstein-{number}",
            title=titles[number],
            by=by,
            weightings=weightings,
            ratios=args.ratios if args.ratios else ratios,
            best_algorithm=best,
        )
        return [table], {}

    return make


def _fairstein_11(frame: pd.DataFrame, out: Path, args: argparse.Namespace) -> Output:
    return tables.fairstein_bins(frame, ratios=args.ratios or None), {}


PAPER2_RATIOS = (2, 10, 20, 50, 100)
TARGETS: dict[str, Callable[..., Output]] = {
    "figure-ein-dor-1": make_figure_ein_dor_1,
    "figure-ein-dor-2": make_figure_ein_dor_2,
    "table-ein-dor-2": _only(tables.ein_dor_runtime),
    "table-ein-dor-3": _only(tables.ein_dor_significance),
    "table-ein-dor-overlap": _only(tables.ein_dor_overlap),
    "table-fairstein-2": _weighting(2, "dataset", ("invprop", "uniform"), (50,), best=True),
    "table-fairstein-3": _weighting(3, "strategy", ("invprop", "uniform"), (50,)),
    "table-fairstein-4": _weighting(4, "imbalance_ratio", ("invprop", "uniform"), PAPER2_RATIOS),
    "table-fairstein-5": _weighting(5, "imbalance_ratio", ("invprop", "posprob"), PAPER2_RATIOS),
    "table-fairstein-6": _weighting(
        6, "imbalance_ratio", ("invprop", "posprob", "uniform"), (200, 1000)
    ),
    "table-fairstein-11": _fairstein_11,
    "compare": make_compare,
}


def log_to_wandb(made: Sequence[Table], images: dict[str, Path], out: Path, target: str) -> None:
    """Log every table as a ``wandb.Table`` (and figures as images) in one offline analysis run."""
    import wandb

    root = Path(os.environ.get("AL_BERT_OUTPUT_DIR", "outputs"))
    root.mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        project=os.environ.get("WANDB_PROJECT", "al-bert"),
        job_type="analysis",
        name=f"analysis-{target}",
        mode=os.environ.get("WANDB_MODE", "offline"),  # type: ignore[arg-type]
        dir=str(root),
        config={"target": target, "out": str(out)},
        settings=wandb.Settings(silent=True, console="off"),
    )
    for table in made:
        data = table.data.copy()
        for column in data.columns:
            if data[column].dtype == object:
                data[column] = data[column].astype(str)
        run.log({table.name: wandb.Table(dataframe=data)})
    for name, path in images.items():
        run.log({f"{name}-image": wandb.Image(str(path))})
    run.finish()
    print(f"W&B analysis run (offline unless WANDB_MODE=online): {run.dir}")


def read_runs_file(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def select(frame: pd.DataFrame, where: Sequence[str]) -> pd.DataFrame:
    """The records whose columns equal the ``COLUMN=VALUE`` conditions (compared as text)."""
    for condition in where:
        column, sep, value = condition.partition("=")
        if not sep:
            raise SystemExit(f"--where {condition!r}: write COLUMN=VALUE")
        if frame.empty:
            break
        if column not in frame:
            raise SystemExit(f"--where {condition!r}: the runs have no column {column!r}")
        frame = frame[frame[column].map(compare.cell_text) == value]
    return frame


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m al_bert.analysis", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("target", choices=[*TARGETS, "all"])
    parser.add_argument(
        "--runs", nargs="+", default=None, help="run dirs, results.jsonl files or folders (outputs)"
    )
    parser.add_argument("--runs-from", type=Path, help="a file listing run dirs, one per line")
    parser.add_argument("--out", type=Path, default=Path("outputs/tables"))
    parser.add_argument("--ratios", type=float, nargs="+", help="paper 2: imbalance ratios to use")
    parser.add_argument("--strategies", nargs="+", help="paper 1 curves: strategies to plot")
    parser.add_argument(
        "--metric",
        default=compare.AUTO,
        help="compare: record column to compare (default auto: accuracy if every run is balanced, "
        "else f1)",
    )
    parser.add_argument(
        "--baseline",
        default=tables.BASELINE,
        help="compare: baseline strategy, or strategy/weighting (default random)",
    )
    parser.add_argument(
        "--figures",
        action="store_true",
        help="compare: also write compare_curves.png and compare_compute.png",
    )
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="COLUMN=VALUE",
        help="keep only runs whose column equals the value (repeatable), e.g. dataset=trec",
    )
    parser.add_argument(
        "--all-statuses",
        action="store_true",
        help="also use running/failed runs (default: finished)",
    )
    parser.add_argument(
        "--wandb",
        action="store_true",
        default=os.environ.get("AL_BERT_ANALYSIS_WANDB", "") not in ("", "0", "false"),
        help="log the tables to W&B (also AL_BERT_ANALYSIS_WANDB=1)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = parse_args(argv)
    paths: list[str] = list(args.runs or [])
    if args.runs_from:
        paths += read_runs_file(args.runs_from)
    if not paths:
        paths = ["outputs/runs"]
    frame = load_results(paths, statuses=None if args.all_statuses else ("finished",))
    frame = select(frame, args.where)
    if frame.empty:
        print(
            f"no finished runs under {', '.join(paths[:3])}: run the sweep first", file=sys.stderr
        )
        return 2
    print(f"loaded {frame['run_key'].nunique()} runs, {len(frame)} iteration records")
    names = list(TARGETS) if args.target == "all" else [args.target]
    made: list[Table] = []
    images: dict[str, Path] = {}
    failures = []
    for name in names:
        try:
            new_tables, new_images = TARGETS[name](frame, args.out, args)
        except AnalysisError as error:
            failures.append(f"{name}: {error}")
            continue
        made += new_tables
        images.update(new_images)
    for table in made:
        for path in table.write(args.out):
            print(f"wrote {path}")
        print(f"\n# {table.title}\n\n{table.markdown}\n")
    for path in images.values():
        print(f"wrote {path}")
    for failure in failures:
        print(f"skipped {failure}", file=sys.stderr)
    if made and args.wandb:
        log_to_wandb(made, images, args.out, args.target)
    return 0 if made and (args.target == "all" or not failures) else 1


__all__ = ["TARGETS", "main"]
