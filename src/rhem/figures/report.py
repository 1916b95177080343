"""results/report.html: one self-contained page a reviewer can read offline.

Figures are embedded as base64 PNG so the file can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import html
import importlib.metadata as md
import json
import platform
from pathlib import Path
from typing import Any

import yaml

from rhem import paths
from rhem.figures.registry import FIGURES

PACKAGES = ("rhem", "torch", "transformers", "trl", "tokenizers", "snakemake", "dvc", "pyarrow")
CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;font-size:13px}
th{background:#eee}img{max-width:100%;border:1px solid #ddd}pre{background:#f6f6f6;padding:8px;font-size:12px}
figure{margin:2em 0}figcaption{font-size:13px;color:#444}"""


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _fmt(stat: dict[str, float]) -> str:
    return f"{stat['rate']:.3f} [{stat['ci_low']:.3f}, {stat['ci_high']:.3f}]"


def _table(head: list[str], rows: list[list[str]]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def build_report(config: dict[str, Any], config_path: Path, summary_path: Path,
                 figure_paths: list[Path], out: Path) -> None:
    """Write the HTML page from the summary metrics and the drawn figures."""
    summary = json.loads(summary_path.read_text())
    parts = [f"<html><head><meta charset='utf-8'><title>rhem report</title><style>{CSS}</style>"
             "</head><body><h1>rhem: emergent misalignment from reward hacking</h1>",
             f"<p>Config <code>{html.escape(str(config_path))}</code>; seeds {config['seeds']}.</p>"]
    evals = sorted({e for s in summary.values() for e in s["final_misalignment"]})
    rows = []
    for run, s in summary.items():
        rows.append([html.escape(run), _fmt(s["final_hack_rate"]), _fmt(s["final_mgs"]),
                     html.escape(json.dumps(s["onset_step"]))]
                    + [_fmt(s["final_misalignment"][e]) for e in evals])
    parts.append("<h2>Final rates (95% bootstrap intervals over seeds and samples)</h2>")
    parts.append(_table(["run", "hack rate", "MGS", "onset step by seed"] + evals, rows))
    parts.append("<h2>Figures</h2>")
    mapping = []
    for path in figure_paths:
        spec = FIGURES[path.stem]
        data = base64.b64encode(path.read_bytes()).decode()
        caption = path.with_suffix(".txt").read_text().strip()
        parts.append(f"<figure><img alt='{path.stem}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        mapping.append([spec.paper, html.escape(spec.title), f"<code>{path}</code>",
                        f"<code>snakemake --cores all --configfile {html.escape(str(config_path))} "
                        f"{path}</code>"])
    parts.append("<h2>Paper figure → our file → command</h2>")
    parts.append(_table(["paper", "what", "file", "rebuild alone"], mapping))
    parts.append("<h2>Versions</h2>")
    parts.append(_table(["package", "version"], [[k, v] for k, v in _versions().items()]))
    parts.append("<h2>Config (defaults filled)</h2><pre>"
                 + html.escape(yaml.safe_dump(config, sort_keys=True)) + "</pre></body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts) + "\n")


def figure_path(name: str) -> Path:
    """The PNG path of a registered figure."""
    return Path(paths.FIGURE.format(name=name))
