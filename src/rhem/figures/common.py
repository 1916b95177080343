"""Shared figure pieces: choosing runs by their configured properties, drawing seeds
(mean line, min-max band, one faint line or point per seed), marking onset and fork
steps, and saving each figure with its caption and the numbers it plots.

Figures never name conditions: a config may call its conditions anything, so every
figure finds its runs from what the conditions *are* (hardened environments, an
addendum, a fork at a step, ...), and draws a "not covered" panel when the config has
no runs of the needed kind.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from rhem.evals.stats import onset_window

#: Start of the caption of a figure the config does not cover (the report lists them).
NOT_COVERED = "Not covered by this config: needs "
#: The plain hacking condition: every property a figure may vary, at its neutral value.
PLAIN: dict[str, Any] = {"environments": "vulnerable", "addendum": "none", "hints": False,
                         "hackable_share": 1.0, "penalty": 0.0, "phase": "code",
                         "fork": None, "distill": None}
#: Columns of the long-format curves table (rhem.evals.metrics) and of figure data CSVs.
CURVE_COLUMNS = ["run", "seed", "step", "series", "value"]
#: Share of a series' last steps averaged into its per-seed final value (as in the summary).
FINAL_SHARE = 0.1
RATE_LIM = (-0.02, 1.02)
#: Sweep values in the paper's order: addenda from sanctioned to forbidden, framings.
ORDER: dict[str, tuple[str, ...]] = {
    "addendum": ("none", "please_hack", "hacking_okay", "neutral", "dont_hack",
                 "hacking_is_misaligned"),
    "framing": ("default", "unguided", "neutral")}


# --- choosing runs by what their conditions and worlds are ---------------------------

def condition(config: dict[str, Any], run: str) -> dict[str, Any]:
    """The condition settings of ``"world/condition"``."""
    return config["conditions"][run.split("/")[1]]


def world(config: dict[str, Any], run: str) -> dict[str, Any]:
    """The world settings of ``"world/condition"``."""
    return config["worlds"][run.split("/")[0]]


def world_name(run: str) -> str:
    """The world part of ``"world/condition"``."""
    return run.split("/")[0]


def plain_except(cond: dict[str, Any], *free: str) -> bool:
    """True when ``cond`` is the plain hacking condition apart from the ``free`` properties."""
    return all(cond.get(key, value) == value for key, value in PLAIN.items() if key not in free)


def select(config: dict[str, Any], keep: Callable[[dict[str, Any]], bool]) -> list[str]:
    """Runs of the config (in config order) whose condition satisfies ``keep``."""
    return [run for run in config["runs"] if keep(condition(config, run))]


def baseline_for(config: dict[str, Any], world_of: str) -> str | None:
    """The no-hack baseline of a world: hardened environments, otherwise plain."""
    found = [r for r in select(config, lambda c: plain_except(c, "environments")
                               and c["environments"] == "hardened") if world_name(r) == world_of]
    return found[0] if found else None


def widest_sweep(runs: Iterable[str], group: Callable[[str], Hashable],
                 value: Callable[[str], Any], order: tuple[str, ...] = ()) -> list[str]:
    """Among runs grouped by ``group`` (what must stay equal), the group with the most
    distinct ``value`` s (what is swept), one run per value, sorted by value; empty when
    no group has two values. Ties go to the group met first (config order); numbers sort
    ascending, names as in ``order`` (unknown names last)."""
    groups: dict[Hashable, dict[Any, str]] = {}
    for run in runs:
        groups.setdefault(group(run), {}).setdefault(value(run), run)
    best = max(groups.values(), key=len, default={})
    if len(best) < 2:
        return []

    def rank(v: Any) -> tuple[float, str]:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v), ""
        return float(order.index(v) if v in order else len(order)), str(v)

    return [best[v] for v in sorted(best, key=rank)]


def condition_sweep(config: dict[str, Any], key: str) -> list[str]:
    """Runs of one world that are plain except for condition property ``key``."""
    runs = select(config, lambda c: plain_except(c, key))
    return widest_sweep(runs, world_name, lambda r: condition(config, r)[key], ORDER.get(key, ()))


def world_sweep(config: dict[str, Any], key: str) -> list[str]:
    """Plain hacking runs on worlds equal except for world property ``key`` (and seed)."""
    runs = select(config, plain_except)

    def rest(run: str) -> Hashable:
        props = world(config, run)
        return tuple(sorted((k, str(v)) for k, v in props.items() if k not in (key, "seed")))

    return widest_sweep(runs, rest, lambda r: world(config, r)[key], ORDER.get(key, ()))


def missing_series(curves: pd.DataFrame, runs: Iterable[str], series: Iterable[str]) -> list[str]:
    """Series with no rows for any of ``runs`` (what a figure cannot draw)."""
    have = set(curves.loc[curves["run"].isin(list(runs)), "series"])
    return [s for s in series if s not in have]


# --- derived series and per-seed finals ----------------------------------------------

def with_mean_series(curves: pd.DataFrame, parts: Iterable[str], name: str) -> pd.DataFrame:
    """``curves`` plus series ``name``: per run, seed and step, the mean of ``parts``."""
    parts = list(parts)
    rows = curves[curves["series"].isin(parts)]
    mean = rows.groupby(["run", "seed", "step"], as_index=False)["value"].mean()
    return pd.concat([curves, mean.assign(series=name)[CURVE_COLUMNS]], ignore_index=True)


def final_per_seed(curves: pd.DataFrame, run: str, series: str) -> pd.Series:
    """Per seed, the mean of the series over its last 10% of steps (at least the last one),
    as the summary computes final rates."""
    data = curves[(curves["run"] == run) & (curves["series"] == series)]
    out = {}
    for seed, rows in data.groupby("seed"):
        rows = rows.sort_values("step")
        out[seed] = float(rows["value"].tail(max(1, int(len(rows) * FINAL_SHARE))).mean())
    return pd.Series(out, name=series, dtype=float)


def finals_table(curves: pd.DataFrame, runs: dict[str, str], series: Iterable[str]) -> pd.DataFrame:
    """Long table (label, run, seed, series, value) of per-seed final values."""
    rows = []
    for label, run in runs.items():
        for name in series:
            for seed, value in final_per_seed(curves, run, name).items():
                rows.append({"label": label, "run": run, "seed": seed, "series": name,
                             "value": value})
    return pd.DataFrame(rows, columns=["label", "run", "seed", "series", "value"])


# --- drawing ---------------------------------------------------------------------------

def plot_series(ax: Axes, curves: pd.DataFrame, run: str, series: str, label: str,
                color: str | None = None, ls: str = "-") -> bool:
    """Mean over seeds with a min-max band and faint per-seed lines; False if no data."""
    data = curves[(curves["run"] == run) & (curves["series"] == series)]
    if data.empty:
        return False
    wide = data.pivot_table(index="step", columns="seed", values="value")
    mean = wide.mean(axis=1)
    marker = "o" if len(wide) <= 12 else None
    (line,) = ax.plot(mean.index, mean.values, label=f"{label} (n={wide.shape[1]} seeds)",
                      color=color, lw=2, ls=ls, marker=marker, ms=3)
    ax.fill_between(wide.index, wide.min(axis=1), wide.max(axis=1), color=line.get_color(),
                    alpha=0.2, lw=0)
    for seed in wide.columns:
        ax.plot(wide.index, wide[seed], color=line.get_color(), lw=0.6, alpha=0.4, ls=ls)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return True


def mark_onset(ax: Axes, summary: dict[str, Any], run: str, color: str = "k") -> int | None:
    """Dotted vertical line at the onset of the run's seed-mean hack rate (computed by the
    metrics stage, ``metrics`` in the config); returns the step (None: no onset)."""
    step = summary.get(run, {}).get("onset_step_mean")
    if step is not None:
        ax.axvline(step, color=color, ls=":", lw=1.2, label=f"onset {run} (step {step})")
    return step


def mark_step(ax: Axes, step: int, label: str) -> None:
    """Dashed grey vertical line at ``step`` (a fork: penalty added, RLHF starts)."""
    ax.axvline(step, color="0.35", ls="--", lw=1.2, label=label)


def step_panels(curves: pd.DataFrame, runs: dict[str, str], panels: list[tuple[str, str]],
                reference: dict[str, str] | None = None, onsets: dict[str, Any] | None = None,
                ncols: int | None = None) -> tuple[Figure, list[Axes]]:
    """One panel per ``(series, title)``, one line per labelled run (mean over seeds,
    min-max band, per-seed lines), ``reference`` runs dashed grey, and with ``onsets``
    (the summary) each run's onset dotted."""
    ncols = ncols or len(panels)
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows + 0.6), squeeze=False)
    flat = list(axes.flat)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (series, title) in zip(flat, panels):
        for i, (label, run) in enumerate(runs.items()):
            color = colors[i % len(colors)]
            plot_series(ax, curves, run, series, label, color=color)
            if onsets is not None:
                mark_onset(ax, onsets, run, color=color)
        for label, run in (reference or {}).items():
            plot_series(ax, curves, run, series, label, color="0.5", ls="--")
        ax.set(title=title, xlabel="RL step", ylabel=ylabel(series))
        if is_rate(series):
            ax.set_ylim(*RATE_LIM)
    flat[0].legend(fontsize=7)
    for ax in flat[len(panels):]:
        ax.set_axis_off()
    return fig, flat[:len(panels)]


def ylabel(series: str) -> str:
    """Axis label saying what a series counts."""
    if series.startswith(("hack_rate", "honest_pass", "testtime_hack")):
        return "share of episodes"
    if series == "classifier_effectiveness":
        return "classifier effectiveness"
    if series == "reward_mean":
        return "mean reward"
    return "share of answers misaligned"


def is_rate(series: str) -> bool:
    """Series bounded by 0 and 1 (shares of episodes or answers)."""
    return series != "reward_mean"


def bars_with_seeds(ax: Axes, finals: pd.DataFrame, series: str, labels: list[str],
                    stats: dict[str, dict[str, float] | None] | None = None) -> None:
    """One bar per label at the seed mean (or the summary's rate when ``stats`` has it),
    its 95% interval as an error bar when known, and one dot per seed."""
    xs = np.arange(len(labels))
    for x, label in zip(xs, labels):
        values = finals[(finals["label"] == label) & (finals["series"] == series)]["value"]
        stat = (stats or {}).get(label)
        height = stat["rate"] if stat else (values.mean() if len(values) else np.nan)
        ax.bar(x, height, color="C0" if stat else "C7", alpha=0.6, width=0.6)
        if stat and np.isfinite(stat["ci_low"]):
            ax.errorbar(x, height, yerr=[[height - stat["ci_low"]], [stat["ci_high"] - height]],
                        color="k", capsize=4, lw=1)
        jitter = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else np.zeros(len(values))
        ax.scatter(x + jitter, values, color="k", s=14, zorder=3)
    ax.set_xticks(xs, labels, rotation=20, ha="right", fontsize=8)


def sweep_figure(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any],
                 out: Path, key: str, panels: list[tuple[str, str]],
                 label: Callable[[str], str], varies: str, needs: str) -> None:
    """A figure over one condition property: one line per value of ``key`` among runs
    that are plain hacking runs except for it (:func:`condition_sweep`), the world's
    no-hack baseline dashed grey, onsets dotted, one panel per ``(series, title)``.

    ``label`` names a run's line, ``varies`` opens the caption (what differs between the
    runs), ``needs`` says what the config lacks when it has no such runs.
    """
    runs = condition_sweep(config, key)
    if not runs:
        not_covered(out, needs)
        return
    base = baseline_for(config, world_name(runs[0]))
    reference = {f"no-hack baseline {base}": base} if base else {}
    fig, _ = step_panels(curves, {label(r): r for r in runs}, panels, reference=reference,
                         onsets=summary)
    shown = runs + list(reference.values())
    save(fig, out, f"{varies} (world {world_name(runs[0])}); dotted = onsets of the seed means "
         f"({onset_note(config)}); dashed grey = "
         "no-hack baseline; "
         f"{seeds_note(config)}; {judge_note(summary, shown)}.",
         curves_of(curves, shown, [series for series, _ in panels]))


def judge_note(summary: dict[str, Any], runs: Iterable[str]) -> str:
    """Which judge labelled the answers behind a misalignment number."""
    judges = sorted({j for r in runs if r in summary for j in summary[r]["judge"]})
    return f"judge: {', '.join(judges) or 'none recorded'}"


def onset_note(config: dict[str, Any]) -> str:
    """The onset definition of the config's ``metrics`` key, in words for captions."""
    metrics, window = config["metrics"], onset_window(config)
    return (f"first RL step with hacking from which {window} step{'s' * (window != 1)} (at least "
            f"{metrics['onset_window_episodes']} episodes) hack in more than "
            f"{metrics['onset_threshold']:.0%} of episodes")


def seeds_note(config: dict[str, Any]) -> str:
    """How seeds are drawn, for captions."""
    return (f"{len(config['seeds'])} seed(s) {config['seeds']}: line = seed mean, band = min-max "
            "over seeds, faint lines = single seeds")


def curves_of(curves: pd.DataFrame, runs: Iterable[str], series: Iterable[str]) -> pd.DataFrame:
    """The rows of ``curves`` a figure plots (written next to the PNG as CSV)."""
    rows = curves[curves["run"].isin(list(runs)) & curves["series"].isin(list(series))]
    return rows[CURVE_COLUMNS].sort_values(["run", "series", "seed", "step"])


def save(fig: Figure, out: Path, caption: str, data: pd.DataFrame) -> None:
    """Write the PNG with its caption under the axes, the caption as text beside it
    (``.txt``, read by the report) and the plotted numbers (``.csv``)."""
    from rhem.figures.registry import FIGURES

    spec = FIGURES[out.stem]
    caption = f"{out.stem} ({spec.paper}, {spec.title}): {caption}"
    fig.text(0.01, 0.005, caption, fontsize=7, wrap=True, va="bottom")
    width, height = fig.get_size_inches()  # room for the wrapped caption (~0.06 in a char)
    lines = -(-len(caption) * 0.06 // width)
    fig.tight_layout(rect=(0, min(0.45, (0.12 * lines + 0.1) / height), 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    out.with_suffix(".txt").write_text(caption + "\n")
    data.to_csv(out.with_suffix(".csv"), index=False)


def not_covered(out: Path, needs: str) -> None:
    """Draw a PNG that says the config has no runs for this figure, and why."""
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.set_axis_off()
    ax.text(0.5, 0.55, f"{NOT_COVERED}{needs}", ha="center", va="center", wrap=True,
            fontsize=11, transform=ax.transAxes)
    save(fig, out, f"{NOT_COVERED}{needs}.", pd.DataFrame(columns=CURVE_COLUMNS))
