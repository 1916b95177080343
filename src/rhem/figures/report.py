"""results/report.html: one self-contained page a reviewer can read offline.

Figures are embedded as base64 PNG so the file can be mailed or archived alone. The page
holds the config and versions used, the base-model checks of each world, the per-eval
table (fig09's CSV), every figure with its caption, which figures this config does not
cover and why, and a table mapping each paper figure to our file and the command that
rebuilds it alone. A small inline script records on ``<body data-images-decoded="k/n">``
how many images the browser decoded, so a headless browser can check the page renders.
"""

from __future__ import annotations

import base64
import html
import importlib.metadata as md
import json
import platform
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from rhem import paths
from rhem.evals.summary_file import read_summary
from rhem.figures.common import NOT_COVERED, onset_note
from rhem.figures.fig09 import wide
from rhem.figures.provenance import Published, badge, config_hash, published_for, source_commit
from rhem.figures.registry import FIGURES, TABLE

PACKAGES = ("rhem", "torch", "transformers", "trl", "tokenizers", "snakemake", "dvc", "pyarrow",
            "pandas", "matplotlib")
CSS = """body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;font-size:13px}
th{background:#eee}img{max-width:100%;border:1px solid #ddd}pre{background:#f6f6f6;padding:8px;font-size:12px}
figure{margin:2em 0}figcaption{font-size:13px;color:#444}.nc{color:#a40}code{font-size:12px}
.wide{overflow-x:auto}.wide td{white-space:nowrap}
.badge{font-size:12px;padding:1px 6px;border-radius:3px;background:#def;color:#124}"""
#: Counts the decoded images once the page has loaded (read by the browser test).
SCRIPT = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images-decoded", ok + "/" + imgs.length);
});
</script>"""


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _table(head: list[str], rows: list[list[str]]) -> str:
    """An HTML table; cells are inserted as given (escape text before)."""
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def _rate(entry: dict[str, Any]) -> str:
    """``0.125 (2/16) [0.03, 0.36]`` for a base-check rate entry."""
    if entry.get("rate") is None:
        return "n/a (0 samples)"
    return (f"{entry['rate']:.3f} ({entry['count']}/{entry['n']}) "
            f"[{entry['ci_low']:.2f}, {entry['ci_high']:.2f}]")


def base_checks_section(config: dict[str, Any], files: list[Path]) -> str:
    """Headline rates of each world's base model, and every rate behind a fold."""
    if not config["worlds"]:
        return "<p>No worlds in this config: base-model checks not produced.</p>"
    by_name = {Path(p).name: Path(p) for p in files}
    parts = []
    for world in config["worlds"]:
        path = by_name.get(Path(paths.BASE_CHECKS.format(world=world)).name)
        if path is None:
            parts.append(f"<h3>world {html.escape(world)}</h3><p>Not run: no run of this config "
                         "uses this world.</p>")
            continue
        doc = json.loads(path.read_text())
        head = [[html.escape(name), _rate(e), f"<code>{html.escape(e['key'])}</code>"]
                for name, e in doc["headline"].items()]
        every = [[f"<code>{html.escape(name)}</code>", _rate(e)] for name, e in doc["rates"].items()]
        settings = html.escape(json.dumps(doc.get("settings", {}), sort_keys=True))
        parts.append(
            f"<h3>world {html.escape(world)}</h3><p>Model <code>{html.escape(doc['model_dir'])}"
            f"</code>, judge {html.escape(doc['judge'])}, {html.escape(doc['interval'])} "
            f"intervals; settings <code>{settings}</code>.</p>"
            + _table(["headline rate", "rate (count/n) [95% interval]", "key"], head)
            + "<details><summary>every rate</summary>"
            + _table(["rate", "rate (count/n) [95% interval]"], every) + "</details>")
    return "\n".join(parts)


def eval_table_section(table_csv: Path, summary: dict[str, Any], config: dict[str, Any]) -> str:
    """fig09's per-eval table, one row per run, with the onset step of each seed."""
    table = pd.read_csv(table_csv)
    if table.empty:
        return "<p>No runs in the summary.</p>"
    grid = wide(table)
    head = ["run", "onset step by seed"] + list(grid.columns)
    rows = [[html.escape(run), html.escape(_onsets(summary.get(run, {}).get("onset_step", {})))]
            + [html.escape(v) for v in grid.loc[run]] for run in grid.index]
    return (f"<p>Final rates, 95% bootstrap intervals over seeds and samples (CSV: "
            f"<code>{html.escape(str(table_csv))}</code>); onset = "
            f"{html.escape(onset_note(config))} (per seed), &ndash; = never.</p>"
            "<div class='wide'>"
            + _table(head, rows) + "</div>")


def _onsets(by_seed: dict[str, int | None]) -> str:
    """``seed 0: 12, seed 1: –`` from the summary's onset steps."""
    return ", ".join(f"seed {seed}: {'–' if step is None else step}" for seed, step in by_seed.items())


def _published_note(published: Published | None) -> str:
    """Which publication the figures' badges compare with (nothing without one)."""
    if published is None:
        return ""
    return (f"<p id='published'>Published results of this config: commit "
            f"<code>{html.escape(published.commit)}</code>, judge "
            f"{html.escape(', '.join(published.judges))}, {len(published.files)} files in the "
            f"<code>{html.escape(published.remote)}</code> DVC remote. Each figure says whether it "
            "was drawn from them (<i>published</i>) or from results rebuilt here, and then whether "
            "its plotted numbers equal the published ones.</p>")


def build_report(config: dict[str, Any], config_path: Path, summary_path: Path,
                 figure_paths: list[Path], base_checks: list[Path], out: Path) -> None:
    """Write the HTML page from the summary, the base checks and the drawn figures."""
    summary = read_summary(summary_path)
    judges = sorted({j for s in summary.values() for j in s["judge"]})
    figures, mapping, uncovered = [], [], []
    table_csv = None
    published = published_for(config)
    for path in map(Path, figure_paths):
        spec = FIGURES[path.stem]
        caption = path.with_suffix(".txt").read_text().strip()
        if NOT_COVERED in caption:
            needs = caption.split(NOT_COVERED, 1)[1]
            uncovered.append(f"<li><b>{html.escape(spec.paper)}</b> ({html.escape(path.stem)}): "
                             f"needs {html.escape(needs)}</li>")
        status = "not covered" if NOT_COVERED in caption else "drawn"
        if path.stem == TABLE:
            table_csv = path.with_suffix(".csv")
        data = base64.b64encode(path.read_bytes()).decode()
        label = badge(path.stem, published)
        tag = f"<span class='badge' data-source='{label}'>{label}</span> " if label else ""
        figures.append(f"<figure id='{path.stem}'><img alt='{path.stem}' "
                       f"src='data:image/png;base64,{data}'>"
                       f"<figcaption>{tag}{html.escape(caption)}</figcaption></figure>")
        extra = f"<br><code>{path.with_suffix('.csv')}</code>"
        mapping.append([html.escape(spec.paper), html.escape(spec.title),
                        f"<a href='#{path.stem}'><code>{path}</code></a>{extra}", status,
                        f"<code>snakemake --cores all {path} --configfile "
                        f"{html.escape(str(config_path))}</code>"])
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>rhem report</title>"
        f"<style>{CSS}</style></head><body>",
        "<h1>rhem: natural emergent misalignment from reward hacking</h1>",
        f"<p>Config <code>{html.escape(str(config_path))}</code> (printed in full below); "
        f"runs {html.escape(', '.join(config['runs']))}; seeds {config['seeds']}; "
        f"judge {html.escape(', '.join(judges))}.</p>",
        f"<p id='provenance'>Commit <code>{html.escape(source_commit())}</code>; config hash "
        f"<code>{config_hash(config)}</code> (SHA-256 of the config below, defaults filled).</p>",
        _published_note(published),
        "<p><a href='#base'>Base-model checks</a> · <a href='#table'>Per-eval table</a> · "
        "<a href='#figures'>Figures</a> · <a href='#mapping'>Paper figure → file → command</a> · "
        "<a href='#versions'>Versions</a> · <a href='#config'>Config</a></p>",
        "<h2>Figures this config does not cover</h2>",
        (f"<ul class='nc'>{''.join(uncovered)}</ul>" if uncovered
         else "<p>None: every figure is drawn from runs of this config.</p>"),
        "<h2 id='base'>Base-model checks (before RL)</h2>",
        base_checks_section(config, list(map(Path, base_checks))),
        "<h2 id='table'>Per-eval results (paper Figure 9)</h2>",
        (eval_table_section(table_csv, summary, config) if table_csv is not None
         else "<p>The per-eval table was not among the figures given.</p>"),
        "<h2 id='figures'>Figures</h2>", *figures,
        "<h2 id='mapping'>Paper figure → our file → command that rebuilds it alone</h2>",
        _table(["paper", "what", "file (PNG, plotted numbers CSV)", "status", "rebuild alone"],
               mapping),
        "<h2 id='versions'>Versions</h2>",
        _table(["package", "version"], [[k, html.escape(v)] for k, v in _versions().items()]),
        "<h2 id='config'>Config (defaults filled)</h2><pre>"
        + html.escape(yaml.safe_dump(config, sort_keys=True)) + "</pre>",
        SCRIPT, "</body></html>",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts) + "\n")
