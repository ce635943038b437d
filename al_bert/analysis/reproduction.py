"""``docs/reproduction.md``: the papers' main claims, the papers' numbers, ours, and a verdict.

Generated from finished runs only (no training): ``python -m al_bert.analysis.reproduction --runs
reproduction/runs --out docs`` (``make reproduce`` runs the grid of ``sweeps/reproduce.yaml`` first).
The same runs always give the same report and figures. The claims are tested in
:mod:`al_bert.analysis.claims` (1 and 3) and :mod:`al_bert.analysis.batch_claims` (2); the costs and
run counts come from :mod:`al_bert.analysis.scale`; this module assembles the report and is its CLI.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from al_bert.analysis import figures
from al_bert.analysis.aggregate import RUN_FILE, final_iteration, load_results
from al_bert.analysis.batch_claims import claim_batch_properties, released_diversity_note
from al_bert.analysis.claims import (
    MIN_SEEDS,
    PAPER1_TABLE3,
    claim_al_beats_random,
    claim_invprop,
    paper2_every_strategy,
)
from al_bert.analysis.scale import full_scale_section, scale_section
from al_bert.analysis.tables import markdown_table, paper1_metric

ENVIRONMENT_COLUMNS = ("device_kind", "device", "train_precision", "inference_precision", "torch")
# How the report names a model the runs record (its ``model`` column); others appear as recorded.
MODEL_NAMES = {
    "packaged:minilm": "the packaged MiniLM-L6 (22M parameters) with its preset (mean pooling, head "
    "learning rate 1e-2; `docs/reproducibility.md`)",
}


def run_environments(run_roots: Sequence[str | Path]) -> tuple[list[dict[str, str]], int, int]:
    """Every launch's environment that the runs' ``run.json`` records (``environments``), how many
    runs record them, and how many record none (made before al-bert recorded them)."""
    launches, recorded, unknown = [], 0, 0
    for root in run_roots:
        for run_file in sorted(Path(root).glob(f"*/{RUN_FILE}")):
            environments = json.loads(run_file.read_text(encoding="utf-8")).get("environments")
            if not environments:
                unknown += 1
                continue
            recorded += 1
            launches += [{c: str(e.get(c)) for c in ENVIRONMENT_COLUMNS} for e in environments]
    return launches, recorded, unknown


def environment_section(run_roots: Sequence[str | Path]) -> str:
    """Which environments the runs record: runs made before al-bert recorded them are counted as
    environment unknown, never refused or dropped."""
    launches, recorded, unknown = run_environments(run_roots)
    if not launches:
        return (
            f"None of the {unknown} runs records its environment: they were made before `run.json` "
            "recorded the device, the resolved precision and the library versions of each launch, "
            "so their environment is unknown (runs since then record it; a run never resumes on "
            "another device kind or precision without `allow_environment_change=true`)."
        )
    table = pd.DataFrame(launches).value_counts().rename("launches").reset_index()
    rows = [[str(v) for v in row] for row in table.itertuples(index=False)]
    return (
        f"{unknown} runs record no environment (made before `run.json` recorded it); the "
        f"{len(launches)} launches of the other {recorded} ran on:\n\n"
        + markdown_table(list(table.columns), rows)
    )


def _tasks(final: pd.DataFrame, paper1: bool) -> str:
    scenarios = final["scenario"].isin(list(PAPER1_TABLE3))
    variants = sorted(set(final.loc[scenarios if paper1 else ~scenarios, "variant"]))
    plural = "" if len(variants) == 1 else "s"
    return f"{len(variants)} paper-{1 if paper1 else 2} task{plural} ({', '.join(variants)})"


def setup_text(frame: pd.DataFrame, run_roots: Sequence[str | Path]) -> str:
    """What these runs are, from their records: models, seeds, tasks, pool caps, devices."""
    final = final_iteration(frame)
    models = ", ".join(MODEL_NAMES.get(m, f"`{m}`") for m in sorted(set(final["model"])))
    caps = sorted(
        {
            int(float(v))
            for v in final.loc[final["scenario"] == "warm_start", "limit_train"]
            if pd.notna(v)
        }
    )
    capped = (
        f", paper-2 pools capped at {' or '.join(f'{c:,}' for c in caps)} rows at the same "
        "imbalance ratio"
        if caps
        else ""
    )
    launches, _, unknown = run_environments(run_roots)
    kinds = sorted({launch["device_kind"] for launch in launches})
    devices = (
        f"launched on {', '.join(kinds)}"
        + (f" ({unknown} runs do not record it)" if unknown else "")
        if kinds
        else "the device is not recorded (see Environment)"
    )
    alps = (
        ""
        if "alps" in set(final["strategy"])
        else " ALPS is not among these runs: it needs a pretrained masked-LM head, which the packaged "
        "MiniLM (a sentence-transformers export) does not ship; the `paper:` blocks run it with "
        "`model=bert_base`."
    )
    return (
        f"Here: {models}, {final['seed'].nunique()} seeds, {_tasks(final, True)} and "
        f"{_tasks(final, False)}{capped}; {devices}. Differences from the papers can come from the "
        "smaller model, the fewer seeds and tasks (low power), and the capped pools; the code is "
        f"never tuned to move them.{alps}"
    )


def build_report(
    frame: pd.DataFrame,
    out: Path,
    figure_dir: Path,
    sweep: Path = Path("sweeps/reproduce.yaml"),
    run_roots: Sequence[str | Path] = (),
) -> str:
    figure_dir.mkdir(parents=True, exist_ok=True)
    rel = figure_dir.relative_to(out) if figure_dir.is_relative_to(out) else figure_dir
    _, claim1 = claim_al_beats_random(frame)
    _, claim2 = claim_batch_properties(frame)
    _, claim3 = claim_invprop(frame)
    _, every_strategy = paper2_every_strategy(frame)
    images = []
    paper1 = frame[frame["scenario"].isin(list(PAPER1_TABLE3))]
    if not paper1.empty:
        fig = figures.learning_curves(paper1, paper1_metric, "Paper 1: F1 per iteration vs Random")
        figures.save(fig, figure_dir / "paper1-learning-curves.png")
        images.append(("Paper 1 learning curves", rel / "paper1-learning-curves.png"))
    fig2 = figures.positives_figure(frame)
    if fig2 is not None:
        figures.save(fig2, figure_dir / "paper2-positives.png")
        images.append(("Paper 2 positives found", rel / "paper2-positives.png"))
    last = int(frame["iteration"].max())
    parts = [
        "# Does al-bert reproduce the papers? (CPU-scale reproduction)",
        "",
        "Generated by `python -m al_bert.analysis.reproduction` from the committed runs under "
        "`reproduction/runs/` (`make reproduce` runs the missing ones first; nothing here is typed by "
        "hand). Verdicts: *reproduced* when our test agrees with the paper's claim at p < 0.05, "
        "*not reproduced* when it significantly contradicts it, *inconclusive at this scale* otherwise "
        f'or with fewer than {MIN_SEEDS} seeds; *consistent* for a "no worse" claim whose test '
        "finds no significant difference (its 95% interval of the paired difference Δ is shown: a "
        "non-significant test is not proof of equivalence). Intervals are 95% Student-t intervals "
        "over seeds.",
        "",
        "## Scale",
        "",
        "Both papers fine-tuned BERT-base (110M parameters) on GPUs with 5 (paper 1) or 10 (paper 2) "
        "seeds over 14 and 4 datasets. " + setup_text(frame, run_roots),
        "",
        scale_section(frame),
        "",
        "## Claim 1 — AL beats Random when positives are rare (paper 1 Figure 1, Table 3)",
        "",
        "Paper 1: every strategy beats Random in the imbalanced and imbalanced-practical scenarios "
        "(Table 3) and AL improves Random's F1 by 4–8% on average in the practical one (§4). Test as "
        f"Table 3: two-sided Wilcoxon signed-rank over (dataset, iteration 1–{last}, seed) pairs, "
        "Bonferroni over the strategies; Δ = F1 (accuracy when balanced) minus Random's.",
        "",
        claim1,
        "",
        "## Claim 2 — batch diversity and representativeness (paper 1 §5, Figure 2)",
        "",
        "Paper 1 §5 measures both at iteration 1, after M₀ is trained and each strategy has selected "
        "its first 50 examples, so that every strategy selects from the same pool with the same "
        "model: diversity = 1 / mean distance of each pool example to its nearest batch member "
        "(equation (1), Zhdanov 2019); representativeness = 1 / mean distance of the batch's members "
        "to their K = 10 nearest pool examples (`al_bert/metrics/batch.py`); Figure 2 averages them "
        "over datasets and seeds. Each dataset below (apart: the strategies ran on different "
        "datasets) shows iteration 1 as paper 1 measured it, then "
        f"beside it the mean over iterations 1–{last} of each seed, then over seeds, where each "
        "strategy's model has diverged from the others'. Paper 1 reads Figure 2 by eye; here each "
        "ordering it states is tested pair by pair with claim 1's test (two-sided Wilcoxon over the "
        "window's (iteration, seed) pairs, Bonferroni over the claim's pairs), so a rank that noise "
        'could swap is not a verdict. "X is the most …" is *reproduced* when X is significantly '
        'above every other strategy and *not reproduced* when one is significantly above X; "below '
        'the median" of n strategies is *reproduced* when ⌈n/2⌉ others are significantly above it '
        "and *not reproduced* when ⌊n/2⌋ are significantly below it. Core-Set's greedy k-center "
        "minimises the *largest* distance from a pool example to its nearest selected point, while "
        "equation (1) averages that distance over the pool, so a Core-Set batch of outlying points "
        "can cover the pool's far corners and still legitimately score low under equation (1). "
        + released_diversity_note(frame),
        "",
        claim2,
        "## Claim 3 — InvProp finds about twice the positives and is no worse (paper 2 Tables 2–4)",
        "",
        "Paper 2, SST-2 at 1:50 (Table 2, best algorithm): balanced accuracy 0.652 vs 0.630, AUC "
        "0.871 vs 0.854, positives ratio 0.205 vs 0.099 (InvProp vs Uniform). Final iteration; "
        "positives ratio = positives among the examples the strategy selected (seed excluded); "
        "paired t-test over seeds, as the paper.",
        "",
        claim3,
        "",
        "### Paper 2's setup with every strategy",
        "",
        "Uniform weighting, final iteration, mean over the seeds run (paper 2 ran BADGE, ALPS, DAL "
        "and Random; the other strategies show what the setup gives and costs with each).",
        "",
        every_strategy,
        "",
        "## Figures",
        "",
        *[f"![{title}]({path})" for title, path in images],
        "",
        "## Environment",
        "",
        environment_section(run_roots),
        "",
        "## Full scale",
        "",
        full_scale_section(frame, sweep),
        "",
    ]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", nargs="+", default=["reproduction/runs"])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument(
        "--sweep", type=Path, default=Path(__file__).parents[2] / "sweeps/reproduce.yaml"
    )
    args = parser.parse_args(argv)
    frame = load_results(args.runs)
    if frame.empty:
        raise SystemExit(f"no finished runs under {' '.join(args.runs)}: run `make reproduce`")
    text = build_report(frame, args.out, args.out / "reproduction", args.sweep, args.runs)
    (args.out / "reproduction.md").write_text(text, encoding="utf-8")
    print(f"wrote {args.out / 'reproduction.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
