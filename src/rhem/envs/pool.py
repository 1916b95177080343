"""Where grading runs happen: a pool of warm worker processes, or one process per run.

Both start :mod:`rhem.envs.worker` (outside the ``rhem`` package, with a scrubbed
environment and ``PYTHONHASHSEED=0``) and speak its JSON-lines protocol, so the fast and
the naive path execute exactly the same grading code; only the process lifetime differs.
"""

from __future__ import annotations

import json
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

WORKER_SCRIPT = str(Path(__file__).with_name("worker.py"))




def _worker_env() -> dict[str, str]:
    """All a worker inherits: no PYTHONPATH, no PYTEST_ADDOPTS, a fixed hash seed."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONHASHSEED": "0",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "LANG": "C.UTF-8",
    }


def _worker_cmd(scratch: str, once: bool, isolate: bool) -> list[str]:
    cmd = [sys.executable, "-s", "-P", WORKER_SCRIPT, "--scratch", scratch]
    return cmd + ["--once"] * once + ["--no-isolation"] * (not isolate)


def dead_outcome(why: str) -> dict:
    """The outcome of a run whose grading process died or hung (never cached)."""
    return {"setup_error": why, "signal": 9, "worker_died": True}


class _LineReader:
    """Read newline-terminated JSON from a pipe with a deadline."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = bytearray()

    def readline(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 1 << 20)
                if not chunk:
                    return None
                self.buf += chunk
        line, _, rest = bytes(self.buf).partition(b"\n")
        self.buf = bytearray(rest)
        return line


class _Worker:
    """One long-lived worker process (see :mod:`rhem.envs.worker`)."""

    def __init__(self, root: str, isolate: bool = True) -> None:
        self.root = root
        self.isolate = isolate
        self.proc: subprocess.Popen | None = None
        self.isolation = "none"
        self.layers: tuple[str, ...] = ()
        self.problems: tuple[str, ...] = ()

    def start(self) -> None:
        self.scratch = tempfile.mkdtemp(prefix="w-", dir=self.root)
        self.log = open(self.scratch + ".log", "ab")
        self.proc = subprocess.Popen(
            _worker_cmd(self.scratch, once=False, isolate=self.isolate), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log, env=_worker_env(), cwd=self.root, start_new_session=True)
        self.reader = _LineReader(self.proc.stdout.fileno())
        line = self.reader.readline(120.0)
        if line is None:
            self.stop()
            raise RuntimeError(f"grader worker did not start; see {self.scratch}.log")
        ready = json.loads(line)
        self.isolation, self.layers = ready["isolation"], tuple(ready.get("layers", ()))
        self.problems = tuple(ready.get("problems", ()))

    def request(self, req: dict, timeout: float) -> dict:
        if self.proc is None:
            self.start()
        try:
            self.proc.stdin.write(json.dumps(req).encode() + b"\n")
            self.proc.stdin.flush()
            line = self.reader.readline(timeout)
        except OSError:
            line = None
        if line is None:  # the worker died (the episode killed it) or hung: replace it
            self.stop()
            self.start()
            return {"outcome": dead_outcome("grading worker died or hung"), "isolation": self.isolation}
        resp = json.loads(line)
        if resp.get("retire"):  # the run changed its grading process: start a clean one
            self.stop()
            self.start()
        return resp

    def stop(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            self.proc = None
            self.log.close()
            shutil.rmtree(self.scratch, ignore_errors=True)


class FastExecutor:
    """A pool of pre-forked workers; each run is a fork of a warm worker."""

    def __init__(self, n: int, isolate: bool = True) -> None:
        self.root = tempfile.mkdtemp(prefix="rhem-grader-")
        self.idle: queue.Queue[_Worker] = queue.Queue()
        self.workers = [_Worker(self.root, isolate) for _ in range(n)]
        with ThreadPoolExecutor(n) as pool:  # start in parallel: warm-up costs ~1 s each
            list(pool.map(lambda w: w.start(), self.workers))
        for w in self.workers:
            self.idle.put(w)
        self.isolation = self.workers[0].isolation
        self.layers, self.problems = self.workers[0].layers, self.workers[0].problems

    def run(self, req: dict, timeout: float) -> dict:
        """Send one request to an idle worker; blocks until one is free."""
        w = self.idle.get()
        try:
            return w.request(req, timeout)
        finally:
            self.idle.put(w)

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class NaiveExecutor:
    """One fresh Python process per run: the slow, obvious reference."""

    def __init__(self, isolate: bool = True) -> None:
        self.root = tempfile.mkdtemp(prefix="rhem-grader-naive-")
        self.isolate = isolate
        # One runner with no request: it reports what isolation this machine gives.
        scratch = tempfile.mkdtemp(dir=self.root)
        done = subprocess.run(_worker_cmd(scratch, once=True, isolate=isolate), input=b"",
                              capture_output=True, env=_worker_env(), cwd=self.root, timeout=120)
        shutil.rmtree(scratch, ignore_errors=True)
        lines = done.stdout.splitlines()
        ready = json.loads(lines[0]) if lines else {}
        self.isolation = ready.get("isolation", "none")
        self.layers, self.problems = tuple(ready.get("layers", ())), tuple(ready.get("problems", ()))

    def run(self, req: dict, timeout: float) -> dict:
        """Start a fresh worker for this one request."""
        scratch = tempfile.mkdtemp(dir=self.root)
        proc = subprocess.Popen(_worker_cmd(scratch, once=True, isolate=self.isolate), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=_worker_env(), cwd=self.root, start_new_session=True)
        try:
            stdout, _ = proc.communicate(json.dumps(req).encode() + b"\n", timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            stdout = b""
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        lines = stdout.splitlines()
        if len(lines) < 2:
            return {"outcome": dead_outcome("naive runner died"), "isolation": self.isolation}
        self.isolation = json.loads(lines[0])["isolation"]
        return json.loads(lines[1])

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
