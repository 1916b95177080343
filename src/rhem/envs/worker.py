"""Grading process: isolates itself once, then runs sandboxed pytest runs on request.

Started by :mod:`rhem.envs.grader` as ``python -s -P worker.py --scratch DIR [--once]``
with a scrubbed environment (``PYTHONHASHSEED=0`` so that set and dict orders are the
same in every grading process). Protocol: one JSON request per stdin line
(``{"cfg", "files", "limits"}``, plus ``"tests"`` for a split run), one JSON response
per stdout line (``{"outcome", "isolation"}``, plus ``"retire"`` when the run changed
this process's limits, priority or CPUs: the pool then replaces it); the first stdout
line is ``{"ready": true, "isolation", "layers", "problems"}``.

The long-lived (fast) worker imports pytest and runs one warm-up session before it
isolates itself (so its minimal root holds every package that imported), then freezes
the heap (``gc.freeze``), so each run is a fork that starts with pytest fully loaded.
``--once`` is the naive reference: a fresh interpreter per run, same code, same verdicts.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import signal
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import harness
import sandbox

WARMUP_TEST = "from solution import f\n\n\ndef test_warm():\n    assert f(1) == 2\n"
#: A test module whose import fails at collection, the commonest outcome of a small
#: model's completion: its report's traceback formatting is warmed too.
WARMUP_IMPORT_ERROR = "from solution import g\n\n\ndef test_warm():\n    assert g(1) == 2\n"


def warm_up(ep: str) -> None:
    """Run real pytest sessions in this process so that forks inherit loaded modules.

    Both code paths are exercised: plain ``pytest.main`` (conftest runs) and a throwaway
    prepared session (all other runs), and a collection error's report
    (:func:`harness.memoize_statement_ranges` keeps what formatting it found).
    """
    solution = "def f(x):\n    return x + 1\n"
    harness.memoize_statement_ranges()
    saved = sys.stdout, sys.stderr
    null = open(os.devnull, "w")
    cwd = os.getcwd()
    try:
        sys.stdout = sys.stderr = null
        for use_prepared, test in ((False, WARMUP_TEST), (True, WARMUP_TEST), (True, WARMUP_IMPORT_ERROR)):
            files = {"solution.py": solution, harness.TEST_FILE: test, "conftest.py": "import pytest\n"}
            sandbox.clear_dir(ep)
            for name, text in files.items():
                with open(os.path.join(ep, name), "w") as fh:
                    fh.write(text)
            os.chdir(ep)
            r, w = os.pipe()
            cfg = {"kind": "tests", "open": ["conftest"], "record": True, "entry_point": "f"}
            harness.run_in_sandbox(cfg, ep, w, harness.prepare(ep) if use_prepared else None)
            os.close(r)
            for name in ("solution", "conftest", harness.TEST_FILE[:-3]):
                sys.modules.pop(name, None)
    finally:
        sys.stdout, sys.stderr = saved
        null.close()
        os.chdir(cwd)
        while ep in sys.path:
            sys.path.remove(ep)
        sandbox.clear_dir(ep)


def _leave_worker_dir() -> None:
    """In a sandboxed run: this directory is no import path of the episode's."""
    while _HERE in sys.path:
        sys.path.remove(_HERE)


def handle(req: dict, scratch: str, iso: sandbox.Isolation,
           prepared: dict[bool | str, harness.Prepared]) -> dict:
    """Run one request in the sandbox; the response carries the raw outcome.

    A ``split`` request (the hardened run) carries the tests apart from the episode's
    files: they go to the tests' process only, the files to the solution's process only.
    """
    cfg = req["cfg"]
    limits = sandbox.Limits(**req.get("limits", {}))

    def target(ep: str, fd: int) -> int:
        _leave_worker_dir()
        return harness.run_in_sandbox(cfg, ep, fd, prepared)

    if cfg["kind"] == "split":
        def serve(ep: str, fd: int) -> int:
            _leave_worker_dir()
            return harness.serve(cfg, ep)

        outcome = sandbox.run_sandboxed(scratch, req["tests"], target, iso, limits,
                                        server=(req["files"], serve))
    else:
        outcome = sandbox.run_sandboxed(scratch, req["files"], target, iso, limits)
    return {"outcome": outcome.to_json(), "isolation": iso.label}


def own_state() -> dict:
    """What a run must not be able to change about its grading process: every resource
    limit, the scheduling priority and the CPUs it may run on."""
    limits = {name: resource.getrlimit(getattr(resource, name))
              for name in dir(resource) if name.startswith("RLIMIT_")}
    return {"limits": limits, "nice": os.getpriority(os.PRIO_PROCESS, 0),
            "cpus": sorted(os.sched_getaffinity(0))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scratch", required=True)
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--no-isolation", action="store_true")
    args = parser.parse_args(argv)
    out = sys.stdout.buffer
    import pytest  # noqa: F401  (before isolation: the minimal root holds what it loads)

    ep = os.path.join(args.scratch, "ep")
    os.makedirs(ep, exist_ok=True)
    if not args.once:  # before isolation: the minimal root holds the packages it imported
        warm_up(ep)
    iso = sandbox.isolate_process(args.scratch, enable=not args.no_isolation)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as a PID namespace's init: no handler, no signal from inside
    os.chdir(ep)  # the prepared session resolves the test file against this directory
    tests = os.path.join(args.scratch, "tests")
    os.makedirs(tests, exist_ok=True)
    prepared = harness.prepare(ep, tests)
    gc.collect()
    gc.freeze()  # forks then share the heap instead of copying it when gc runs
    ready = {"ready": True, "isolation": iso.label, "layers": list(iso.layers),
             "problems": list(iso.problems)}
    out.write(json.dumps(ready).encode() + b"\n")
    out.flush()
    state = own_state()
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        try:
            resp = handle(json.loads(line), args.scratch, iso, prepared)
        except Exception as exc:  # a broken request must not kill the worker
            resp = {"outcome": {"setup_error": f"worker: {exc!r}"}, "isolation": iso.label}
        changed = own_state() != state
        if changed:  # a run reached this process: its later runs could not be trusted
            resp["retire"] = "the grading process's limits, priority or CPUs changed during the run"
            resp["outcome"]["worker_died"] = True
        out.write(json.dumps(resp).encode() + b"\n")
        out.flush()
        if args.once or changed:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
