"""The whole pipeline on the sample shipped inside the package: what ``patron demo`` runs.

Each step is a service call that the CLI, the API and a user's script can make on their own; the demo only
chains them, so it is a faithful picture of how the pieces fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patron.storage import Repository

# The shipped sample is Online Retail (2010-12-01 .. 2011-12-09): the last 13 weeks are the holdout for the CLV
# backtest and the churn label window, the cut the churn literature on this data uses.
CUTOFF = "2011-09-09"
CHURN_HORIZON_DAYS = 90


@dataclass
class DemoResult:
    store: str
    out_dir: Path
    run_ids: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    # what the demo produced, by name: a table in the store or a file under out_dir
    outputs: dict[str, str] = field(default_factory=dict)


Step = tuple[str, Callable[[], Any]]


def demo_steps(repo: Repository, out_dir: Path, result: DemoResult) -> list[Step]:
    """The demo as named steps (so the CLI can draw a progress bar over them)."""
    from patron.data import sample_path
    from patron.report import build_report
    from patron.services import churn, clv, segmentation, summary
    from patron.services.ingest import ingest

    def _ingest() -> None:
        res = ingest(repo, sample_path())
        result.run_ids["ingest"] = res.run_id
        result.facts.update(rows_read=res.rows_read, rows_kept=res.rows_kept, customers=res.customers)
        result.outputs["cleaning report"] = "table cleaning_report"

    def _summary() -> None:
        result.run_ids["summary"] = summary.build_summaries(repo, time_unit="W", calibration_end=CUTOFF)
        result.outputs["customer summaries"] = "tables btyd_summary, btyd_calibration, rfm, behaviour"

    def _clv() -> None:
        result.run_ids["clv_fit"] = clv.fit_clv(repo, model="auto")
        result.run_ids["clv_score"] = clv.score_clv(repo, horizon=52, level=(80,))
        result.outputs["CLV"] = "tables clv_parameters, clv_model_comparison, clv_scores"

    def _segment() -> None:
        result.run_ids["segment"] = segmentation.segment(repo, method="hdbscan", period="quarter")
        result.outputs["segments"] = "tables segment_assignments, segment_profiles, segment_transitions"

    def _churn() -> None:
        result.run_ids["churn_fit"] = churn.fit_churn(repo, cutoff=CUTOFF, horizon_days=CHURN_HORIZON_DAYS)
        result.run_ids["churn_score"] = churn.score_churn(repo)
        result.outputs["churn scores and reasons"] = "tables churn_scores, churn_reasons"

    def _report() -> None:
        path = build_report(repo, out_dir / "report.html")
        result.outputs["report"] = str(path.resolve())

    return [
        ("Ingest and clean the sample", _ingest),
        ("Build customer summaries (SQL)", _summary),
        ("Fit and score CLV models (BTYD family)", _clv),
        ("Segment customers (HDBSCAN, by quarter)", _segment),
        ("Fit calibrated churn model, score and explain", _churn),
        ("Write the HTML report", _report),
    ]


def run_demo(repo: Repository, out_dir: Path, on_step: Callable[[str], None] | None = None) -> DemoResult:
    """Run every step in order; ``on_step`` is told each step's name before it starts."""
    result = DemoResult(store=repo.url, out_dir=out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, step in demo_steps(repo, out_dir, result):
        if on_step:
            on_step(name)
        step()
    return result
