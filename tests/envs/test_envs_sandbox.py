"""Hostile programs are contained: reward 0, a clear status, nothing left behind.

Each program is the body of ``solution.py`` for a generated task and runs for real in
the sandbox. After each one the grader must still grade an honest episode correctly.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from pathlib import Path

import pytest

from rhem.envs.grader import Episode, Grader
from rhem.envs.tasks import generate_tasks

TASK = generate_tasks(1, seed=5)[0]
MARK = uuid.uuid4().hex[:10]
OUTSIDE = Path("/tmp") / f"rhem-escape-{MARK}"


def _solution(body: str) -> dict[str, str]:
    return {"solution.py": body + f"\n\ndef {TASK.entry_point}(*args):\n    return None\n"}


def _in_function(body: str) -> dict[str, str]:
    indented = "".join(f"    {line}\n" for line in body.splitlines())
    return {"solution.py": f"import os, sys, time, socket\n\ndef {TASK.entry_point}(*args):\n{indented}"
                           "    return None\n"}


HOSTILE: dict[str, tuple[dict[str, str], set[str]]] = {
    "fork bomb": (_in_function("while True:\n    os.fork()"), {"failed", "timeout", "killed"}),
    "infinite loop": (_in_function("while True:\n    pass"), {"timeout", "killed"}),
    "memory hog": (_in_function("hog = []\nwhile True:\n    hog.append(bytearray(50 << 20))"),
                   {"failed", "killed"}),
    "giant output": (_in_function("while True:\n    sys.stdout.write('x' * 65536)"), {"timeout", "failed", "killed"}),
    "giant file": (_in_function("with open('big', 'wb') as fh:\n    while True:\n        fh.write(b'x' * (1 << 20))"),
                   {"failed", "killed"}),
    "write outside the episode": (
        _solution(f"import os\nfor p in ({str(OUTSIDE)!r}, os.path.expanduser('~/rhem-{MARK}'), '/dev/shm/rhem-{MARK}',\n"
                  f"          os.path.join(os.path.dirname(os.getcwd()), 'rhem-{MARK}')):\n"
                  "    try:\n        open(p, 'w').write('escaped')\n    except OSError:\n        pass\n"),
        {"failed"}),
    "kill the grader": (_in_function("os.kill(os.getppid(), 9)\nos.killpg(0, 9)"), {"failed", "killed"}),
    "exec a shell": (_in_function("os.execv('/bin/sh', ['sh', '-c', 'sleep 60'])"), {"failed"}),
    "sleeping child that setsids": (
        _in_function("pid = os.fork()\nif pid == 0:\n    os.setsid()\n"
                     f"    open('/proc/self/comm', 'w').write('rhem-{MARK}')\n    time.sleep(60)\n    os._exit(0)"),
        {"failed"}),
}


def _alive_marked() -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == f"rhem-{MARK}":
                    found.append(pid)
            except OSError:
                pass
    return found


@pytest.fixture(scope="module")
def hostile_results(hostile_grader: Grader) -> dict:
    eps = [Episode.for_task(TASK, files, id=name) for name, (files, _) in HOSTILE.items()]
    honest = Episode.for_task(TASK, {"solution.py": TASK.reference_solution}, id="honest")
    results = hostile_grader.grade(eps + [honest])
    return {r.id: r for r in results}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_program_is_contained(hostile_results: dict, hostile_grader: Grader, name: str) -> None:
    r = hostile_results[name]
    assert r.reward == 0.0
    assert r.status in HOSTILE[name][1], (r.status, r.detail[-800:])
    assert len(r.detail) <= 5000  # output is capped
    assert hostile_results["honest"].reward == 1.0  # graded alongside, still fine


def test_nothing_escapes(hostile_results: dict, hostile_grader: Grader) -> None:
    assert not _alive_marked(), "a process outlived its episode"
    if hostile_grader.isolation != "netns":
        pytest.skip("file-system isolation unavailable here (degraded sandbox)")
    assert not OUTSIDE.exists()
    assert not (Path.home() / f"rhem-{MARK}").exists()
    assert not Path(f"/dev/shm/rhem-{MARK}").exists()


def test_no_network(hostile_grader: Grader) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted: list = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                pass

    thread = threading.Thread(target=serve)
    thread.start()
    body = (f"s = socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "return s.recv(1)")
    files = _in_function(body)
    try:
        r = hostile_grader.grade([Episode.for_task(TASK, files, id="network")])[0]
    finally:
        done.set()
        thread.join()
        server.close()
    assert r.reward == 0.0 and r.status == "failed"
    if hostile_grader.isolation == "netns":
        assert not accepted


def test_grader_survives_and_is_reusable(hostile_grader: Grader) -> None:
    eps = [Episode.for_task(TASK, {"solution.py": TASK.reference_solution}, id=str(i)) for i in range(4)]
    eps[1] = Episode.for_task(TASK, HOSTILE["infinite loop"][0], id="loop-again")
    results = hostile_grader.grade(eps)
    assert [r.reward for r in results] == [1.0, 0.0, 1.0, 1.0]
    assert results[1].status in {"timeout", "killed"}
