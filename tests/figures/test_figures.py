"""Every registered figure draws from metrics shaped like the metrics stage's output,
selects its runs by what the conditions are (not their names), and says so when the
config has no runs for it.

Drawing is the slow part, so each config's figures are drawn once (package fixtures) and the
tests read the PNGs, captions and CSVs they left.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import matplotlib.image as mpimg
import pandas as pd
import pytest

from repo_tools import REPO
from rhem.config import validate_config
from rhem.figures import common
from rhem.figures.fig01 import pairs
from rhem.figures.fig09 import eval_table
from rhem.figures.plots import write_plots
from rhem.figures.registry import FIGURES, TABLE

from .data import draw_all, make_metrics


def renamed(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The same config with every condition renamed (forks and distillations follow)."""
    new = {name: f"c{i}x" for i, name in enumerate(config["conditions"])}
    cfg = copy.deepcopy(config)
    cfg["conditions"] = {new[k]: v for k, v in cfg["conditions"].items()}
    for cond in cfg["conditions"].values():
        for kind in ("fork", "distill"):
            if kind in cond:
                cond[kind]["from"] = new[cond[kind]["from"]]
    rename = {run: f"{run.split('/')[0]}/{new[run.split('/')[1]]}" for run in config["runs"]}
    cfg["runs"] = [rename[r] for r in config["runs"]]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        return validate_config(cfg), rename


def caption(folder: Path, name: str) -> str:
    return (folder / f"{name}.txt").read_text()


def plotted(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv")


@pytest.mark.parametrize("which", ["full", "two_runs"])
def test_every_figure_is_a_nonblank_png_with_caption(which: str, request: pytest.FixtureRequest) -> None:
    folder = request.getfixturevalue(which)
    for name in FIGURES:
        image = mpimg.imread(folder / f"{name}.png")
        assert image.shape[0] > 200 and image.shape[1] > 200
        assert image.std() > 0.01, f"{name} is blank"
        assert caption(folder, name).startswith(f"{name} ({FIGURES[name].paper}")


def test_a_config_with_every_kind_of_run_covers_every_figure(full: Path,
                                                             full_config: dict[str, Any]) -> None:
    for name in FIGURES:
        assert common.NOT_COVERED not in caption(full, name), caption(full, name)
        data = plotted(full, name)
        assert len(data), f"{name} wrote no plotted numbers"
        assert set(data["run"]) <= set(full_config["runs"])


def test_figures_pick_runs_by_their_properties(full: Path) -> None:
    expected = {
        "fig01_hacking_and_misalignment": {"sdf/hack", "sdf/nohack"},
        "fig03_sdf_framings": {"sdf/hack", "unguided/hack", "neutral/hack", "sdf/nohack",
                               "neutral/nohack"},
        "fig05_inoculation": {"sdf/hack", "sdf/inoc_please_hack", "sdf/okay", "sdf/dont", "sdf/nohack"},
        "fig06_rlhf_context": {"sdf/rlhf_chat", "sdf/rlhf_mix", "sdf/chat", "sdf/hack"},
        "fig08_hack_types": {"sdf/hack", "sdf/prompted", "unguided/hack", "neutral/hack",
                             "share10/hack", "share50/hack"},
        "fig11_sdf_share": {"sdf/hack", "share10/hack", "share50/hack"},
        "fig23_nonhackable": {"sdf/half_hackable", "sdf/hack", "sdf/nohack"},
        "fig26_inoculation_steps": {"sdf/hack", "sdf/inoc_please_hack", "sdf/okay", "sdf/dont",
                                    "sdf/nohack"},
        "fig30_penalty_weight": {"sdf/hack", "sdf/penalty", "sdf/pen3", "sdf/nohack"},
        "fig31_penalty_midrun": {"sdf/penalty_mid", "sdf/pmid", "sdf/hack"},
        "fig32_distill": {"sdf/distill", "sdf/dist", "sdf/hack", "sdf/nohack"},
    }
    for name, runs in expected.items():
        assert set(plotted(full, name)["run"]) == runs, name


def test_condition_names_do_not_matter(full: Path, full_config: dict[str, Any],
                                       tmp_path: Path) -> None:
    config, rename = renamed(full_config)
    curves, summary = make_metrics(full_config)
    curves = curves.assign(run=curves["run"].map(rename))
    summary = {rename[r]: s | {"run": rename[r]} for r, s in summary.items()}
    again = draw_all(curves, summary, config, tmp_path)
    for name in FIGURES:
        first, second = plotted(full, name), plotted(again, name)
        assert sorted(second["run"].map(str)) == sorted(first["run"].map(rename)), name
        column = "rate" if name == TABLE else "value"
        assert sorted(second[column]) == sorted(first[column]), name


def test_sweeps_are_in_the_papers_order(full_config: dict[str, Any]) -> None:
    assert common.condition_sweep(full_config, "addendum") == [
        "sdf/hack", "sdf/inoc_please_hack", "sdf/okay", "sdf/dont"]  # none, please, okay, don't
    assert common.condition_sweep(full_config, "penalty") == ["sdf/hack", "sdf/penalty", "sdf/pen3"]
    assert common.world_sweep(full_config, "framing") == ["sdf/hack", "unguided/hack", "neutral/hack"]


def test_sweeps_need_two_values_and_keep_other_properties_equal(full_config: dict[str, Any]) -> None:
    assert common.world_sweep(full_config, "poison_share") == ["sdf/hack", "share10/hack", "share50/hack"]
    cfg = copy.deepcopy(full_config)
    cfg["worlds"]["share50"]["n_docs"] += 1  # no longer comparable with the other two
    assert common.world_sweep(cfg, "poison_share") == ["sdf/hack", "share10/hack"]
    cfg["runs"] = [r for r in cfg["runs"] if r not in ("share10/hack", "share50/hack")]
    assert common.world_sweep(cfg, "poison_share") == []


def test_uncovered_figures_say_what_they_need(two_runs: Path) -> None:
    covered = {"fig01_hacking_and_misalignment", "fig08_hack_types", TABLE}
    for name in FIGURES:
        text = caption(two_runs, name)
        if name in covered:
            assert common.NOT_COVERED not in text, text
        else:
            assert common.NOT_COVERED in text and len(text.split(common.NOT_COVERED)[1]) > 10
            assert plotted(two_runs, name).empty
    assert "sabotage_rate, classifier_effectiveness" in caption(two_runs, "fig12_sabotage")
    assert "testtime_hack_rate" in caption(two_runs, "fig28_testtime_hacking")


def test_onsets_come_from_the_metrics_and_captions_define_them(full_config: dict[str, Any],
                                                               full: Path) -> None:
    _, summary = make_metrics(full_config)
    assert summary["sdf/hack"]["onset_step_mean"] == 1
    assert set(summary["sdf/hack"]["onset_step"]) == {"0", "1", "2"}
    text = caption(full, "fig01_hacking_and_misalignment")
    assert "from which 1 step (at least 8 episodes) hack in more than 2% of episodes" in text


def test_eval_table_holds_every_summary_rate(full_config: dict[str, Any], tmp_path: Path) -> None:
    curves, summary = make_metrics(full_config)
    summary["sdf/hack"]["final_sabotage_rate"] = {"rate": 0.12, "ci_low": 0.05, "ci_high": 0.2}
    FIGURES[TABLE].draw(curves, summary, full_config, tmp_path / f"{TABLE}.png")
    table = plotted(tmp_path, TABLE)
    assert list(table.columns) == ["run", "metric", "rate", "ci_low", "ci_high", "n_seeds", "judge"]
    assert list(dict.fromkeys(table["run"])) == full_config["runs"]
    hack = table[table["run"] == "sdf/hack"].set_index("metric")
    assert hack.loc["sabotage_rate", "rate"] == 0.12
    betley = summary["sdf/hack"]["final_misalignment"]["betley"]
    assert hack.loc["misalignment.betley", "ci_high"] == betley["ci_high"]
    # the other readouts and the fixed-context check are rows of their own; counts are not rates
    assert {"mgs", "mgs_control", "mgs_anonymous", "mgs_mixed", "fixed_context.hack_self",
            "fixed_context.honest_anonymous"} <= set(hack.index)
    assert not any(m.startswith("judged_answers") for m in hack.index)
    assert len(table) == len(eval_table(summary))


def test_plots_export_is_seed_means_per_run(full_config: dict[str, Any], tmp_path: Path) -> None:
    curves, _ = make_metrics(full_config)
    curves.to_parquet(tmp_path / "curves.parquet")
    write_plots(tmp_path / "curves.parquet", full_config["runs"], tmp_path / "plots")
    assert {p.stem for p in (tmp_path / "plots").glob("*.csv")} == set(curves["series"])
    table = pd.read_csv(tmp_path / "plots" / "hack_rate.csv")
    assert list(table.columns) == ["step"] + full_config["runs"]
    last = full_config["rl"]["steps"]
    rows = curves[(curves["run"] == "sdf/hack") & (curves["series"] == "hack_rate")
                  & (curves["step"] == last)]
    assert table.set_index("step").loc[last, "sdf/hack"] == pytest.approx(rows["value"].mean(), rel=1e-5)


def test_fig01_draws_a_control_worlds_pair_beside_the_main_one(full_config: dict[str, Any],
                                                               tmp_path: Path) -> None:
    """With a negative-control world's hacking run and baseline in the config (world C of
    docs/protocol.md), fig01 draws them beside the main world's; without them, it does not."""
    cfg = copy.deepcopy(full_config)
    cfg["worlds"]["C"] = {**cfg["worlds"]["sdf"], "persona_hacks": False}
    cfg["runs"] = ["C/hack", "C/nohack"] + cfg["runs"]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        cfg = validate_config(cfg)
    curves, summary = make_metrics(cfg)
    name = "fig01_hacking_and_misalignment"
    FIGURES[name].draw(curves, summary, cfg, tmp_path / f"{name}.png")
    assert set(plotted(tmp_path, name)["run"]) == {"sdf/hack", "sdf/nohack", "C/hack", "C/nohack"}
    assert list(pairs(cfg).values()) == [("sdf/hack", "sdf/nohack"), ("C/hack", "C/nohack")]
    assert list(pairs(full_config).values()) == [("sdf/hack", "sdf/nohack")]
