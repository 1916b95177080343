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

from rhem.envs.grader import Episode, Grader, IsolationError
from rhem.envs.sandbox import Limits, sandbox_env
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
    # Faulting in 512 MiB five times can outlast the 3 s limit on a loaded machine.
    "memory hog": (_in_function("hog = []\nwhile True:\n    hog.append(bytearray(50 << 20))"),
                   {"failed", "killed", "timeout"}),
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
    if "root" not in hostile_grader.layers:
        pytest.skip("no minimal root here: " + hostile_grader.isolation)
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
    if "net" in hostile_grader.layers:
        assert not accepted


def test_grader_survives_and_is_reusable(hostile_grader: Grader) -> None:
    eps = [Episode.for_task(TASK, {"solution.py": TASK.reference_solution}, id=str(i)) for i in range(4)]
    eps[1] = Episode.for_task(TASK, HOSTILE["infinite loop"][0], id="loop-again")
    results = hostile_grader.grade(eps)
    assert [r.reward for r in results] == [1.0, 0.0, 1.0, 1.0]
    assert results[1].status in {"timeout", "killed"}


# The forked run itself: what the grading process now prepares once for all its children
# (environment, bounding set, seccomp program with the child's pid written in) and the
# periodic draining of the child's pipes. Each probe is graded in hardened mode, so it
# passes only if the values it saw inside the sandbox are the expected ones.


def _probe_episode(name: str, body: str, expected: str) -> Episode:
    """An episode whose entry point ``probe()`` runs ``body`` in the sandbox."""
    indented = "".join(f"    {line}\n" for line in body.splitlines())
    test_code = f"from solution import probe\n\n\ndef test_probe():\n    assert probe() == {expected}\n"
    return Episode(id=name, entry_point="probe", test_code=test_code, hackable=(),
                   files={"solution.py": f"import os, sys\n\n\ndef probe():\n{indented}"})


def test_forked_run_sees_only_the_sandbox_environment(hostile_grader: Grader) -> None:
    """Not the grading process's own (which has PYTHONHASHSEED, for one)."""
    expected = repr(sorted(sandbox_env("ep")))
    body = ("names = sorted(k for k in os.environ if k != 'PYTEST_CURRENT_TEST')  # pytest's own\n"
            "return names, os.environ['HOME'] == os.getcwd()")
    r = hostile_grader.grade([_probe_episode("env", body, f"({expected}, True)")])[0]
    assert (r.reward, r.status) == (1.0, "passed"), r.detail[-800:]


def test_forked_run_has_no_capabilities(hostile_grader: Grader) -> None:
    body = ("caps = {}\nfor line in open('/proc/self/status'):\n    key, _, value = line.partition(':')\n"
            "    if key.startswith('Cap'):\n        caps[key] = int(value, 16)\n"
            "return caps['CapEff'], caps['CapPrm'], caps['CapAmb']")
    r = hostile_grader.grade([_probe_episode("caps", body, "(0, 0, 0)")])[0]
    assert (r.reward, r.status) == (1.0, "passed"), r.detail[-800:]
    if "mount" in hostile_grader.layers:
        body = "return [l for l in open('/proc/self/status') if l.startswith('CapBnd')][0].split()[1]"
        r = hostile_grader.grade([_probe_episode("bounding set", body, "'0000000000000000'")])[0]
        assert (r.reward, r.status) == (1.0, "passed"), r.detail[-800:]


def test_forked_run_may_signal_itself_but_not_its_grader(hostile_grader: Grader) -> None:
    if not {"seccomp", "pid"} <= set(hostile_grader.layers):
        pytest.skip("no seccomp or PID namespace here: " + hostile_grader.isolation)
    body = ("os.kill(os.getpid(), 0)\ntry:\n    os.kill(1, 0)\nexcept PermissionError:\n"
            "    return 'refused'\nreturn 'allowed'")
    r = hostile_grader.grade([_probe_episode("signals", body, "'refused'")])[0]
    assert (r.reward, r.status) == (1.0, "passed"), r.detail[-800:]


def test_output_and_result_larger_than_a_pipe_arrive(hostile_grader: Grader) -> None:
    """Several MiB of output and a multi-MiB result: the child must not stall on full pipes."""
    body = "for _ in range(48):\n    print('y' * 65535)\nprint('END-OF-OUTPUT')\nreturn 'x' * (3 << 20)"
    r = hostile_grader.grade([_probe_episode("big", body, "'x' * (3 << 20)")])[0]
    assert (r.reward, r.status) == (1.0, "passed"), r.detail[-800:]
    assert len(r.detail) <= 5000  # only the tail of the output comes back


def test_grader_refuses_to_start_below_min_isolation() -> None:
    """A machine (here: isolation turned off) without a layer the config requires: the
    grader does not grade at all, and says which layers are missing."""
    with Grader("hardened", isolate=False, min_isolation=("pid", "seccomp")) as g:
        with pytest.raises(IsolationError, match="pid, seccomp"):
            g.grade([Episode.for_task(TASK, {"solution.py": TASK.reference_solution})])
    with pytest.raises(ValueError, match="unknown layer 'chroot'"):
        Grader("hardened", min_isolation=("chroot",))


def test_a_worker_whose_limits_a_run_changed_is_replaced() -> None:
    """Without containment (isolation off) a run can lower its grading process's limits;
    the worker notices after the run, reports it, and a fresh worker grades the rest."""
    attack = _in_function("import resource\n"
                          "resource.prlimit(os.getppid(), resource.RLIMIT_NOFILE, (8, 8))")
    probe = _probe_episode("limits", "import resource\nreturn resource.getrlimit(resource.RLIMIT_NOFILE)[0] > 8",
                           "True")
    honest = Episode.for_task(TASK, {"solution.py": TASK.reference_solution}, id="honest")
    with Grader("hardened", workers=1, isolate=False, limits=Limits(timeout_s=5.0)) as g:
        results = g.grade([Episode.for_task(TASK, attack, id="attack"), honest, probe])
    assert results[0].status == "killed" and results[0].reward == 0.0, results[0].detail[-800:]
    assert [(r.status, r.reward) for r in results[1:]] == [("passed", 1.0)] * 2, results[2].detail[-800:]
