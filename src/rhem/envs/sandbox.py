"""Run untrusted episode code in a disposable, contained process (Linux).

Why this shape: RL grading runs thousands of model-written programs, some of which are
reward hacks and a few of which are simply hostile (fork bombs, infinite loops, memory
hogs, giant output, writes outside the episode, network, killing the grader). None of
that may change a verdict for another episode or leave anything behind.

* :func:`isolate_process` is called once by a grading process (a long-lived worker, or
  the one-shot naive runner) before it handles episodes. :mod:`namespaces` moves it into
  new PID, network and mount namespaces (a user namespace too where the grader is not
  root) under a minimal read-only root whose only writable places are the episode
  directory ``scratch/ep`` and the tests' directory ``scratch/tests`` (tmpfs). It also
  empties the process's capability bounding set and probes seccomp.
* :func:`run_sandboxed` clears the episode directory, writes the files, makes its own
  environment the sandbox's (scrubbed) one and forks once (twice for a split run, whose
  solution process cannot see the tests' directory). The child starts a new session,
  switches to the run uid (a root grader's runs get a host uid of their own), sets
  rlimits, drops every capability, makes itself non-dumpable and installs a seccomp
  filter: no new processes (threads are fine), no exec, no sockets, signals, limits and
  scheduling only for itself, no namespaces, mounts, ptrace, io_uring or bpf. Then it
  runs the target. The parent enforces the wall-clock deadline, keeps only the tail of
  the output, caps the result message, reads the exit status from the kernel (never from
  the child) and kills the session afterwards. Because the child cannot create
  processes, nothing can outlive the run.

Where a layer is unavailable (no user namespaces, no seccomp, another OS) the run still
happens with what is left (rlimits, a session kill, a child-subreaper sweep that catches
``setsid`` escapees) and results name the missing layers (``"missing: pid, root"``)
instead of ``"full"``; ``grader.min_isolation`` decides whether that is acceptable.

One fork per run matters: forking a process with pytest loaded, and the copy-on-write
faults that follow, are the dominant cost of grading on small VMs. So everything that
does not depend on the run is done once per grading process, before it forks: the
namespaces, the bounding set, the environment, the seccomp program (each child only
writes its pid into it) and the rlimit values. While a child runs, the parent sleeps
until it exits, waking only every few milliseconds to drain its pipes, instead of
twice per line the child prints.

This module only uses the standard library: it is imported by worker processes that
are started outside the ``rhem`` package.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import resource
import select
import signal
import struct
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass

try:
    from . import namespaces
    from .format import safe_path
except ImportError:  # a worker process: this directory is on sys.path, the package is not
    import namespaces
    from format import safe_path

# --- constants (linux/sched.h, linux/prctl.h, linux/seccomp.h) --------------------------
CLONE_THREAD = 0x00010000

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_READ, PR_CAPBSET_DROP = 1, 4, 23, 24
PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER, PR_CAP_AMBIENT = 22, 38, 36, 47
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_ERRNO, SECCOMP_RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000

_libc = ctypes.CDLL(None, use_errno=True)
try:
    _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
except AttributeError:  # not Linux: every layer will probe as unavailable ("degraded")
    pass


@dataclass(frozen=True)
class Limits:
    """Per-run resource limits. Defaults suit pure-function coding tasks."""

    timeout_s: float = 10.0
    cpu_s: int = 10
    memory_mb: int = 1024
    fsize_mb: int = 16
    nofile: int = 256
    nproc: int = 64
    tmpfs_mb: int = 64
    #: A real report is at most a few tens of KB (HumanEval's largest record run: 13 KB);
    #: more is a flood, dropped whole (the run is then judged as one that reported nothing).
    result_bytes: int = 1 << 20
    output_bytes: int = 16 << 10


#: Every containment layer, in the order results name them (see :class:`Isolation`).
LAYERS: tuple[str, ...] = namespaces.LAYERS + ("seccomp",)


@dataclass(frozen=True)
class Isolation:
    """Which containment layers this grading process set up (probed, not assumed).

    ``run_id``: the uid and gid each run switches to (``None``: runs keep the grader's).
    """

    layers: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    run_id: int | None = None

    @property
    def seccomp(self) -> bool:
        return "seccomp" in self.layers

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(layer for layer in LAYERS if layer not in self.layers)

    @property
    def label(self) -> str:
        """What each result records: ``"full"``, or the layers that are missing."""
        if not self.missing:
            return "full"
        return "missing: " + ", ".join(self.missing)


class SandboxError(OSError):
    """A containment step failed in a way that makes the run meaningless."""


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise SandboxError(err, f"{what}: {os.strerror(err)}")


def _prctl(option: int, arg2: int = 0, arg3: int = 0) -> int:
    try:
        return _libc.prctl(option, arg2, arg3, 0, 0)
    except AttributeError:
        return -1


# --------------------------------------------------------------------------------------
# Process-level isolation (once per grading process)
# --------------------------------------------------------------------------------------


def isolate_process(scratch: str, tmpfs_mb: int = Limits.tmpfs_mb, enable: bool = True) -> Isolation:
    """Contain this grading process (:func:`namespaces.enter`) and probe seccomp.

    Must run in a single-threaded process before it forks any sandbox; with a PID
    namespace it returns in that namespace's init, a new process. ``scratch`` is an
    existing, empty directory owned by this process; ``scratch/ep`` becomes the episode
    directory. ``enable=False`` sets up nothing but rlimits and the orphan sweep (to test
    the degraded path, or for machines where namespaces misbehave).
    """
    os.makedirs(os.path.join(scratch, "ep"), exist_ok=True)
    try:
        _prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of degraded runs come back to us
    except OSError:
        pass
    if not enable:
        return Isolation(problems=("isolation disabled",))
    ns = namespaces.enter(scratch, tmpfs_mb)
    sec = namespaces.probe(_probe_seccomp) is None
    layers = ns.layers + (("seccomp",) if sec else ())
    problems = ns.problems + (() if sec else ("seccomp unavailable",))
    if os.getuid() == 0:  # root, on the host or in a user namespace: keep no capability for runs
        drop_bounding_set()
    return Isolation(layers=layers, problems=problems, run_id=ns.run_id)


def _probe_seccomp() -> None:
    install_seccomp(os.getpid())
    try:
        pid = os.fork()
    except OSError:
        return
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    raise SandboxError("fork was not blocked")


# --------------------------------------------------------------------------------------
# Seccomp
# --------------------------------------------------------------------------------------

#: Syscall numbers per architecture. ``deny``: ptrace, unshare, setns, mount, umount2,
#: pidfd_send_signal, pidfd_open, io_uring_setup/enter/register, bpf, perf_event_open,
#: userfaultfd, process_vm_readv/writev, pivot_root, acct, (swapon, swapoff), reboot,
#: init_module, delete_module, kexec_load, keyctl, kexec_file_load, ioprio_set, kcmp,
#: process_madvise, migrate_pages, move_pages, socket, socketpair, chroot, add_key,
#: request_key, and the new mount API (open_tree, move_mount, fsopen, fsconfig, fsmount,
#: fspick, mount_setattr), pidfd_getfd.
#: ``own_pid``: calls that act on another process named by their first argument (signals,
#: limits, scheduling), allowed only on the sandboxed process itself (or pid 0, "myself",
#: where the call reads it so).
#: Syscalls numbered alike on every architecture (the shared table from 424 on), denied:
#: pidfd_send_signal, io_uring_setup/enter/register, open_tree, move_mount, fsopen,
#: fsconfig, fsmount, fspick, pidfd_open, pidfd_getfd, process_madvise, mount_setattr.
_DENY_EVERYWHERE = (424, 425, 426, 427, 428, 429, 430, 431, 432, 433, 434, 438, 440, 442)
_ARCH = {
    "x86_64": dict(audit=0xC000003E, fork=57, vfork=58, clone=56, clone3=435, execve=59,
                   execveat=322, fcntl=72, ioctl=16, setpriority=141,
                   deny=(101, 272, 308, 165, 166, 321, 298, 323, 310, 311, 155, 163, 167, 168,
                         169, 175, 176, 246, 250, 320, 251, 312, 256, 279, 41, 53, 161, 248, 249),
                   own_pid=dict(kill=62, tkill=200, tgkill=234, rt_sigqueueinfo=129,
                                rt_tgsigqueueinfo=297),
                   own_pid_or_zero=dict(prlimit64=302, sched_setaffinity=203, sched_setscheduler=144,
                                        sched_setparam=142, sched_setattr=314),
                   x32=True),
    "aarch64": dict(audit=0xC00000B7, fork=None, vfork=None, clone=220, clone3=435, execve=221,
                    execveat=281, fcntl=25, ioctl=29, setpriority=140,
                    deny=(117, 97, 268, 40, 39, 280, 241, 282, 270, 271, 41, 89, 224, 225, 142,
                          105, 106, 104, 219, 294, 30, 272, 238, 239, 198, 199, 51, 217, 218),
                    own_pid=dict(kill=129, tkill=130, tgkill=131, rt_sigqueueinfo=138,
                                 rt_tgsigqueueinfo=240),
                    own_pid_or_zero=dict(prlimit64=261, sched_setaffinity=122, sched_setscheduler=119,
                                         sched_setparam=118, sched_setattr=274),
                    x32=False),
}

#: fcntl/ioctl commands that direct SIGIO/SIGURG (or a chosen signal) at another process:
#: F_SETOWN, F_SETSIG, F_SETOWN_EX; FIOSETOWN, SIOCSPGRP, TIOCSPGRP.
_FCNTL_DENY = (8, 10, 15)
_IOCTL_DENY = (0x8901, 0x8902, 0x5410)
#: setpriority's ``which``: only PRIO_PROCESS (0), and then ``who`` must be the process.
_PRIO_PROCESS = 0


def _bpf(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)


_LD_W, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06


def _arg(i: int) -> bytes:
    """Load the low 32 bits of syscall argument ``i`` (x86_64 and aarch64 are little-endian;
    every argument checked here is an int or unsigned int in the kernel)."""
    return _bpf(_LD_W, 0, 0, 16 + 8 * i)


def _only_values(nr: int, checks: list[tuple[int, tuple[int, ...]]], fail: int) -> list[bytes]:
    """If the syscall is ``nr``: allow it only when each ``(arg, values)`` check holds (the
    argument is one of the values), else fail with errno ``fail``. Every path inside ends
    in a return, so the accumulator's clobbered syscall number is never read again."""
    body: list[bytes] = []
    for arg, values in checks:
        body.append(_arg(arg))
        for j, value in enumerate(values):
            # a match jumps over the other values and the fail: to the next check, or allow
            body.append(_bpf(_JEQ, len(values) - j, 0, value))
        body.append(_bpf(_RET, 0, 0, SECCOMP_RET_ERRNO | fail))
    body.append(_bpf(_RET, 0, 0, SECCOMP_RET_ALLOW))
    return [_bpf(_JEQ, 0, len(body), nr)] + body


def _deny_values(nr: int, arg: int, values: tuple[int, ...], fail: int) -> list[bytes]:
    """If the syscall is ``nr``: fail with ``fail`` when argument ``arg`` is one of
    ``values``, else allow."""
    body = [_arg(arg)]
    for j, value in enumerate(values):
        body.append(_bpf(_JEQ, len(values) - j, 0, value))
    body += [_bpf(_RET, 0, 0, SECCOMP_RET_ALLOW), _bpf(_RET, 0, 0, SECCOMP_RET_ERRNO | fail)]
    return [_bpf(_JEQ, 0, len(body), nr)] + body


def seccomp_program(own_pid: int) -> bytes:
    """BPF program: no fork/exec/clone3 (threads allowed), no sockets, signals, limits and
    scheduling only for ``own_pid``, no fcntl/ioctl that aims signals at others, and no
    ptrace/namespaces/mount/io_uring/bpf/reboot-like calls."""
    arch = _ARCH[platform.machine()]
    err = lambda e: SECCOMP_RET_ERRNO | e
    prog = [_bpf(_LD_W, 0, 0, 4), _bpf(_JEQ, 1, 0, arch["audit"]), _bpf(_RET, 0, 0, SECCOMP_RET_KILL_PROCESS),
            _bpf(_LD_W, 0, 0, 0)]
    if arch["x32"]:
        prog += [_bpf(_JGE, 0, 1, 0x40000000), _bpf(_RET, 0, 0, err(errno.EPERM))]
    for nr, e in ((arch["fork"], errno.EAGAIN), (arch["vfork"], errno.EAGAIN), (arch["clone3"], errno.ENOSYS),
                  (arch["execve"], errno.EPERM), (arch["execveat"], errno.EPERM)):
        if nr is not None:
            prog += [_bpf(_JEQ, 0, 1, nr), _bpf(_RET, 0, 0, err(e))]
    for nr in arch["deny"] + _DENY_EVERYWHERE:
        prog += [_bpf(_JEQ, 0, 1, nr), _bpf(_RET, 0, 0, err(errno.EPERM))]
    # clone: threads only (CLONE_THREAD set in the flags)
    prog += [_bpf(_JEQ, 0, 4, arch["clone"]), _arg(0), _bpf(_JSET, 0, 1, CLONE_THREAD),
             _bpf(_RET, 0, 0, SECCOMP_RET_ALLOW), _bpf(_RET, 0, 0, err(errno.EAGAIN))]
    for nr in arch["own_pid"].values():
        prog += _only_values(nr, [(0, (own_pid,))], errno.EPERM)
    for nr in arch["own_pid_or_zero"].values():
        prog += _only_values(nr, [(0, (0, own_pid))], errno.EPERM)
    prog += _only_values(arch["setpriority"], [(0, (_PRIO_PROCESS,)), (1, (0, own_pid))], errno.EPERM)
    prog += _deny_values(arch["fcntl"], 1, _FCNTL_DENY, errno.EPERM)
    prog += _deny_values(arch["ioctl"], 1, _IOCTL_DENY, errno.EPERM)
    prog.append(_bpf(_RET, 0, 0, SECCOMP_RET_ALLOW))
    return b"".join(prog)


#: Stands for the sandboxed process's pid in :class:`SeccompFilter`'s template program.
_PID_PLACEHOLDER = 0x7FFFFFF1


class SeccompFilter:
    """:func:`seccomp_program` built once, installed by many forked children.

    Building the program costs each child about as much as running a small test, so the
    grading process builds it with a placeholder pid and each child only writes its own
    pid into the rules that name it before installing it.
    """

    def __init__(self) -> None:
        if platform.machine() not in _ARCH:
            raise SandboxError(errno.ENOSYS, f"no seccomp table for {platform.machine()}")
        code = seccomp_program(_PID_PLACEHOLDER)
        self._buf = ctypes.create_string_buffer(code, len(code))
        self._pid_offsets = [i + 4 for i in range(0, len(code), 8)
                             if struct.unpack_from("I", code, i + 4)[0] == _PID_PLACEHOLDER]

        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        self._fprog = SockFprog(len(code) // 8, ctypes.cast(self._buf, ctypes.c_void_p))

    def install(self, own_pid: int) -> None:
        """Install the filter for this (single-threaded) process; irreversible."""
        pid = struct.pack("I", own_pid)
        for off in self._pid_offsets:
            ctypes.memmove(ctypes.addressof(self._buf) + off, pid, 4)
        _check(_prctl(PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")
        _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(self._fprog), 0, 0),
               "seccomp")


_filter: SeccompFilter | None = None


def install_seccomp(own_pid: int) -> None:
    """Install :func:`seccomp_program` for this (single-threaded) process; irreversible."""
    seccomp_filter().install(own_pid)


def seccomp_filter() -> SeccompFilter:
    """This process's :class:`SeccompFilter` (built on first use, before any fork)."""
    global _filter
    if _filter is None:
        _filter = SeccompFilter()
    return _filter


def drop_bounding_set() -> None:
    """Drop every capability from the bounding set of this process and its future children.

    Done once by a grading process (:func:`isolate_process`) rather than by each child:
    it costs one call per capability.
    """
    for cap in range(64):
        if _prctl(PR_CAPBSET_DROP, cap) != 0 and ctypes.get_errno() == errno.EINVAL:
            break


def drop_capabilities() -> None:
    """Empty every capability set, so a uid-0-in-namespace child cannot remount or mknod.

    The bounding set is usually empty already (:func:`drop_bounding_set`); dropping it
    again here is cheap then and covers callers that skipped :func:`isolate_process`.
    """
    if _prctl(PR_CAPBSET_READ, 0) == 1:
        drop_bounding_set()
    _prctl(PR_CAP_AMBIENT, 4)  # PR_CAP_AMBIENT_CLEAR_ALL
    header = struct.pack("Ii", 0x20080522, 0)
    data = bytes(24)
    _check(_libc.capset(ctypes.c_char_p(header), ctypes.c_char_p(data)), "capset")


# --------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------


@dataclass
class RunOutcome:
    """What the caller saw of one run; ``result`` is the child's (untrusted) message."""

    exit_code: int | None = None
    signal: int | None = None
    timed_out: bool = False
    result: bytes | None = None
    result_overflow: bool = False
    output: str = ""
    duration_s: float = 0.0
    setup_error: str | None = None

    def to_json(self) -> dict:
        d = asdict(self)
        d["result"] = None if self.result is None else self.result.decode("utf-8", "replace")
        return d


#: Environment the untrusted code sees (nothing inherited from the grader).
def sandbox_env(ep: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": ep,
        "TMPDIR": ep,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


def _write_files(ep: str, files: dict[str, str], owner: int | None = None) -> None:
    """Write the episode's files (relative, already validated paths) into ``ep``; with
    ``owner``, hand them (and the directories made for them) to that uid and gid, so the
    run owns its episode as it would without a run uid."""
    for rel, text in files.items():
        if not safe_path(rel):  # the grader checked already; a worker never trusts a request
            raise SandboxError(errno.EINVAL, f"unsafe path {rel!r}")
        path = os.path.join(ep, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(text)
    if owner is not None:
        for top, dirs, names in os.walk(ep):
            for name in dirs + names:
                os.chown(os.path.join(top, name), owner, owner)


def _rlimits(limits: Limits) -> list[tuple[int, tuple[int, int]]]:
    """CPU seconds, address space, file size, open files, processes, no core dumps.

    Computed in the grading process (the child inherits the same hard limits), so the
    child only has to apply them.
    """
    mb = 1 << 20
    out = []
    for res, value in ((resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1)),
                       (resource.RLIMIT_AS, (limits.memory_mb * mb,) * 2),
                       (resource.RLIMIT_FSIZE, (limits.fsize_mb * mb,) * 2),
                       (resource.RLIMIT_NOFILE, (limits.nofile,) * 2),
                       (resource.RLIMIT_NPROC, (limits.nproc,) * 2),
                       (resource.RLIMIT_CORE, (0, 0))):
        _, hard = resource.getrlimit(res)  # never ask for more than we have (EPERM)
        new_hard = value[1] if hard == resource.RLIM_INFINITY else min(value[1], hard)
        out.append((res, (min(value[0], new_hard), new_hard)))
    return out


def _scrub_environ(ep: str) -> None:
    """Make this process's environment the sandbox's, so forked children inherit it.

    A grading process needs nothing from its own environment once it runs, and doing
    this here instead of in each child saves every run the work.
    """
    env = sandbox_env(ep)
    if os.environ != env:
        os.environ.clear()
        os.environ.update(env)


def _hide(path: str) -> None:
    """Cover ``path`` with an empty read-only tmpfs in a mount namespace of this process's
    own: what a split run's solution process must not see (the tests' directory)."""
    if _libc.unshare(namespaces.CLONE_NEWNS) != 0:
        raise SandboxError(ctypes.get_errno(), "unshare(CLONE_NEWNS) to hide the tests")
    namespaces.mount_empty(path)


def _contain_and_run(ep: str, iso: Isolation, rlimits: list[tuple[int, tuple[int, int]]],
                     seccomp: SeccompFilter | None, target: Callable[[str, int], int],
                     fds: list[int], w_out: int, hide: str | None = None) -> None:
    """The untrusted process: contain it, then run ``target(ep, 3)``; never returns.

    ``fds`` become fds 3, 4, ... of the process (the result channel of a tests process,
    the pipes of a split run); ``hide`` is a directory it must not see. Its environment
    was scrubbed by the parent (:func:`_scrub_environ`) before the fork.
    """
    code = 70
    try:
        os.setsid()
        if hide is not None:  # the server of a split run: its own directory, not the tests'
            _scrub_environ(ep)
            if "mount" in iso.layers:
                _hide(hide)
        if iso.run_id is not None:  # a host uid and gid of its own; no capability survives
            os.setgroups([])
            os.setresgid(iso.run_id, iso.run_id, iso.run_id)
            os.setresuid(iso.run_id, iso.run_id, iso.run_id)
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the uid change, which clears it
        _prctl(PR_SET_DUMPABLE, 0)  # no other process of its uid may read or write its memory
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(w_out, 1)
        os.dup2(w_out, 2)
        moved = [os.dup(fd) for fd in fds]  # out of the way of the numbers they take
        for number, fd in enumerate(moved, start=3):
            os.dup2(fd, number)
        os.closerange(3 + len(fds), 1 << 16)
        os.chdir(ep)
        os.umask(0o022)
        for res, value in rlimits:
            resource.setrlimit(res, value)
        if os.getuid() == 0:  # root in a user namespace (or a root grader without run uid)
            drop_capabilities()
        if seccomp is not None:
            seccomp.install(os.getpid())
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversized writes fail with EFBIG
        import atexit

        atexit._clear()  # the grader's own exit handlers are not the episode's business
        code = target(ep, 3)
    except SystemExit as exc:  # what `python -c` would do with it
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        try:
            traceback.print_exc()
        except BaseException:
            pass
        code = 70
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()  # as a real interpreter would, before it exits
        except BaseException:
            pass
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
    os._exit(code & 0xFF if isinstance(code, int) else 1)


def _kill(pid: int | None, group: bool = False) -> None:
    if not pid:
        return
    try:
        (os.killpg if group else os.kill)(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _sweep_orphans() -> None:
    """Kill and reap every child of ours (we are a subreaper, so escapees come back here).

    Only needed when seccomp is unavailable: then a child can fork and ``setsid`` away.
    """
    me = str(os.getpid())
    for _ in range(100):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    stat = fh.read()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == me:
                found = True
                _kill(int(entry))
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        if not found:
            return
        time.sleep(0.01)


def clear_dir(path: str) -> None:
    """Empty a directory the sandbox may have filled with anything (chmod 000 included)."""
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            _rmtree(full)
        else:
            try:
                os.unlink(full)
            except FileNotFoundError:
                pass


#: Seconds between pipe drains while a child runs (see :func:`run_sandboxed`).
_DRAIN_S = 0.02
#: Polling interval where no pidfd can signal the child's exit.
_POLL_S = 0.005
#: Pipe capacity asked for, so that a typical run's output fits without a drain.
_PIPE_BYTES = 1 << 20
#: Most bytes read from one pipe per drain, so a flood cannot keep us past the deadline.
_DRAIN_MAX = 1 << 20


def _widen_pipe(fd: int) -> None:
    """Enlarge a pipe's buffer where the kernel allows (F_SETPIPE_SZ); harmless if not."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (OSError, AttributeError):
        pass


class _Sink:
    """What the child writes to one pipe: all of it up to ``cap`` bytes, or nothing and an
    overflow flag (the result message), or, with ``keep_tail``, the last ``cap`` bytes (the
    output). Either way a flood costs the grader at most about ``2 * cap`` bytes."""

    def __init__(self, fd: int, cap: int, keep_tail: bool = True) -> None:
        self.fd, self.cap, self.keep_tail = fd, cap, keep_tail
        self.data = bytearray()
        self.overflow = False
        self.eof = False

    def drain(self) -> None:
        """Read what is there now (non-blocking), at most :data:`_DRAIN_MAX` bytes."""
        taken = 0
        while not self.eof and taken < _DRAIN_MAX:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                self.eof = True
                return
            taken += len(chunk)
            if self.keep_tail:
                self.data += chunk
                if len(self.data) > 2 * self.cap:
                    del self.data[: len(self.data) - self.cap]
            elif self.overflow or len(self.data) + len(chunk) > self.cap:
                self.overflow = True
                self.data = bytearray()  # a flood: nothing of it is kept
            else:
                self.data += chunk


def _exit_watch(pid: int) -> int | None:
    """A pidfd that becomes readable when ``pid`` exits (None where unsupported)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def run_sandboxed(scratch: str, files: dict[str, str], target: Callable[[str, int], int],
                  iso: Isolation, limits: Limits = Limits(),
                  server: tuple[dict[str, str], Callable[[str, int], int]] | None = None) -> RunOutcome:
    """Run ``target(episode_dir, result_fd)`` in a fresh contained child process.

    ``files`` are written into the (emptied) episode directory first. ``target`` runs in
    the untrusted process and may write a result message to ``result_fd``; whatever it
    writes comes back as ``RunOutcome.result`` (up to ``limits.result_bytes``). The exit
    status comes from ``waitpid``. For a grading process only: it replaces this
    process's environment by the sandbox's (see :func:`_scrub_environ`).

    With ``server = (server_files, server_target)`` the run is split in two contained
    processes: ``server_files`` go to the episode directory, where ``server_target`` runs
    and cannot see ``scratch/tests``; ``files`` go to ``scratch/tests``, where ``target``
    runs. Pipes connect them: fds 4 and 5 of ``target``'s process, 3 and 4 of the
    server's. The server is killed when ``target``'s process ends; the outcome is that
    process's.
    """
    ep = os.path.join(scratch, "ep")
    tests = os.path.join(scratch, "tests")
    here = tests if server is not None else ep
    for folder in (ep, tests) if server is not None else (ep,):
        os.makedirs(folder, exist_ok=True)
        clear_dir(folder)
    out = RunOutcome()
    start = time.monotonic()
    try:
        _write_files(here, files, iso.run_id)
        if server is not None:
            _write_files(ep, server[0], iso.run_id)
    except OSError as exc:
        out.setup_error = f"writing the episode files failed: {exc}"
        for folder in {ep, here}:
            clear_dir(folder)
        return out
    r_res, w_res = os.pipe()
    r_out, w_out = os.pipe()
    for fd in (r_res, r_out):
        _widen_pipe(fd)
        os.set_blocking(fd, False)
    _scrub_environ(here)
    rlimits = _rlimits(limits)
    seccomp = seccomp_filter() if iso.seccomp else None
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    calls = answers = (None, None)
    if server is not None:
        calls, answers = os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r_res)
        os.close(r_out)
        fds = [w_res] + ([calls[1], answers[0]] if server is not None else [])
        _contain_and_run(here, iso, rlimits, seccomp, target, fds, w_out)
    helper = None
    if server is not None:
        helper = os.fork()
        if helper == 0:
            os.close(r_res)
            os.close(r_out)
            os.close(w_res)
            _contain_and_run(ep, iso, rlimits, seccomp, server[1], [calls[0], answers[1]], w_out,
                             hide=tests)
        for fd in (*calls, *answers):
            os.close(fd)
    os.close(w_res)
    os.close(w_out)
    watch = _exit_watch(pid)
    result, output = _Sink(r_res, limits.result_bytes, keep_tail=False), _Sink(r_out, limits.output_bytes)
    sinks = (result, output)
    deadline = start + limits.timeout_s
    status = None
    exited_at = None
    while True:
        if status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status, exited_at = st, time.monotonic()
        if status is not None and helper is not None:  # the tests are over: so is the server
            _kill(helper, group=True)
            os.waitpid(helper, 0)
            helper = None
        for sink in sinks:
            sink.drain()
        open_fds = [sink.fd for sink in sinks if not sink.eof]
        now = time.monotonic()
        if status is not None and (not open_fds or now - exited_at > 0.5):
            break  # pipes still open after the exit can only be held by escapees
        if now >= deadline:
            out.timed_out = True
            break
        # Sleep until the child exits, waking every _DRAIN_S to empty the pipes so that a
        # child writing more than a pipe holds is never blocked for long. Waking on every
        # write instead costs two context switches per line pytest prints.
        if watch is not None and status is None:
            select.select([watch], [], [], min(deadline - now, _DRAIN_S))
        elif status is None:
            time.sleep(min(deadline - now, _POLL_S))
        else:  # exited, pipes held open by an escapee: wait for data or EOF
            select.select(open_fds, [], [], min(deadline - now, _POLL_S))
    for child in (pid, helper):
        _kill(child, group=True)
        _kill(child)
    if helper is not None:
        os.waitpid(helper, 0)
    if status is None:
        _, status = os.waitpid(pid, 0)
        if not out.timed_out:
            out.timed_out = True
    if not iso.seccomp:
        _sweep_orphans()
    for fd in (r_res, r_out) + ((watch,) if watch is not None else ()):
        os.close(fd)
    out.duration_s = time.monotonic() - start
    out.output = bytes(output.data[-limits.output_bytes:]).decode("utf-8", "replace")
    out.result = bytes(result.data) if result.data and not result.overflow else None
    out.result_overflow = result.overflow
    if not out.timed_out:
        if os.WIFSIGNALED(status):
            out.signal = os.WTERMSIG(status)
        else:
            out.exit_code = os.waitstatus_to_exitcode(status)
    for folder in {ep, here}:
        clear_dir(folder)
    return out


def _rmtree(path: str) -> None:
    """Remove a tree the sandbox may have made unreadable (chmod 000 directories)."""
    import shutil

    def onerror(func, p, exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=onerror)
