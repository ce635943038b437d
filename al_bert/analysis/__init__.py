"""Results analysis: tidy aggregation of runs, significance tests, the papers' tables and figures.

``python -m al_bert.analysis <target> --runs outputs --out outputs/tables`` (see :mod:`.cli`).
``python -m al_bert.analysis.reproduction`` writes ``docs/reproduction.md`` (:mod:`.reproduction`) from
the claim tests of :mod:`.claims` and :mod:`.batch_claims` and the costs of :mod:`.scale`.
"""

from al_bert.analysis.aggregate import final_iteration, load_results
from al_bert.analysis.stats import bonferroni, paired_ttest_p, wilcoxon_p

__all__ = ["bonferroni", "final_iteration", "load_results", "paired_ttest_p", "wilcoxon_p"]
