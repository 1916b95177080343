"""Run untrusted episode code in a disposable, contained process (Linux).

Why this shape: RL grading runs thousands of model-written programs, some of which are
reward hacks and a few of which are simply hostile (fork bombs, infinite loops, memory
hogs, giant output, writes outside the episode, network, killing the grader). None of
that may change a verdict for another episode or leave anything behind.

* :func:`isolate_process` is called once by a grading process (a long-lived worker, or
  the one-shot naive runner) before it handles episodes. It moves the process into new
  user, network and mount namespaces (no usable network interface), makes every mount
  read-only, replaces ``/dev`` by a tiny tmpfs with null/zero/random only, and mounts a
  size-limited tmpfs as the episode directory ``scratch/ep``, the only writable place.
  It also empties the process's capability bounding set.
* :func:`run_sandboxed` clears the episode directory, writes the files, makes its own
  environment the sandbox's (scrubbed) one and forks once. The child starts a new
  session, sets rlimits, drops every capability and installs a seccomp filter: no new
  processes (threads are fine), no exec, no sockets but AF_UNIX, no signals to anyone
  else, no namespaces, mounts, ptrace, io_uring or bpf. Then it runs the target. The
  parent enforces the wall-clock deadline, keeps only the tail of the output, caps the
  result message, reads the exit status from the kernel (never from the child) and
  kills the session afterwards. Because the child cannot create processes, nothing can
  outlive the run.

Where a layer is unavailable (no user namespaces, no seccomp, another OS) the run still
happens with what is left (rlimits, a session kill, a child-subreaper sweep that catches
``setsid`` escapees) and results are labelled ``"degraded"`` instead of ``"netns"``.

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

# --- constants (linux/sched.h, linux/mount.h, linux/prctl.h, linux/seccomp.h) ----------
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_THREAD = 0x00010000

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC = 32, 4096, 8192, 16384
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
MS_PRIVATE = 1 << 18
_MOUNT_OPTS = {
    "ro": MS_RDONLY, "nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME, "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME,
    "strictatime": MS_STRICTATIME,
}

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_READ, PR_CAPBSET_DROP = 1, 4, 23, 24
PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER, PR_CAP_AMBIENT = 22, 38, 36, 47
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_ERRNO, SECCOMP_RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000

#: File systems whose refusal to be remounted read-only does not open a write path.
_PSEUDO_FS = frozenset({
    "proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "debugfs", "tracefs", "securityfs",
    "pstore", "bpf", "fusectl", "configfs", "hugetlbfs", "binfmt_misc", "autofs", "nsfs",
    "efivarfs", "selinuxfs", "rpc_pipefs", "nfsd",
})

#: Device nodes bind-mounted into the sandbox's private /dev.
_DEVICES = ("null", "zero", "full", "random", "urandom")

_libc = ctypes.CDLL(None, use_errno=True)
try:
    _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                            ctypes.c_char_p]
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
    result_bytes: int = 16 << 20
    output_bytes: int = 16 << 10


@dataclass(frozen=True)
class Isolation:
    """Which containment layers this process could set up (probed, not assumed)."""

    user: bool = False
    net: bool = False
    mnt: bool = False
    seccomp: bool = False
    problems: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``"netns"`` when every layer works, else ``"degraded"`` (recorded per result)."""
        return "netns" if (self.net and self.mnt and self.seccomp) else "degraded"


class SandboxError(OSError):
    """A containment step failed in a way that makes the run meaningless."""


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise SandboxError(err, f"{what}: {os.strerror(err)}")


def _unshare(flags: int) -> None:
    _check(_libc.unshare(flags), f"unshare({flags:#x})")


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()
    _check(_libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _prctl(option: int, arg2: int = 0, arg3: int = 0) -> int:
    try:
        return _libc.prctl(option, arg2, arg3, 0, 0)
    except AttributeError:
        return -1


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _unescape_mountinfo(field: str) -> str:
    return field.encode().decode("unicode_escape") if "\\" in field else field


# --------------------------------------------------------------------------------------
# Process-level isolation (once per grading process)
# --------------------------------------------------------------------------------------


def _make_dev(staging: str) -> None:
    """Replace /dev by a read-only tmpfs holding only harmless device nodes.

    Keeps raw disks, /dev/shm and terminals out of reach even for a process that is
    uid 0 inside its namespace; built at ``staging`` and moved over /dev.
    """
    _mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=755")
    for name in _DEVICES:
        target = os.path.join(staging, name)
        open(target, "w").close()
        _mount(f"/dev/{name}", target, None, MS_BIND)
    for name, dest in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                       ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(dest, os.path.join(staging, name))
    _mount(staging, "/dev", None, MS_MOVE)
    _mount(None, "/dev", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC)


def _remount_all_readonly() -> list[str]:
    """Remount every visible mount read-only, keeping its locked flags; returns failures."""
    failures = []
    with open("/proc/self/mountinfo") as fh:
        lines = fh.read().splitlines()
    for line in lines:
        fields = line.split()
        target = _unescape_mountinfo(fields[4])
        opts = fields[5].split(",")
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for opt in opts:
            flags |= _MOUNT_OPTS.get(opt, 0)
        try:
            _mount(None, target, None, flags)
        except OSError as exc:
            fstype = fields[fields.index("-") + 1] if "-" in fields else "?"
            if exc.errno == errno.ENOENT or not os.path.exists(target):
                continue  # hidden under the new /dev: unreachable anyway
            failures.append(f"{target} ({fstype}): {exc}")
    return failures


def isolate_process(scratch: str, tmpfs_mb: int = Limits.tmpfs_mb, enable: bool = True) -> Isolation:
    """Enter new user/net/mount namespaces and make the file system read-only.

    Must run in a single-threaded process before it forks any sandbox. ``scratch`` is an
    existing, empty directory owned by this process; ``scratch/ep`` becomes a private
    tmpfs of ``tmpfs_mb`` MiB (the episode directory) and ``scratch/dev`` stages /dev.

    The set-up is first tried in a throwaway child: a half-done isolation (a user
    namespace whose id maps could not be written, a read-only file system without the
    episode tmpfs) would leave this process unable to write the episode files, so it is
    done here only once it is known to work.
    ``enable=False`` sets up nothing but rlimits and the orphan sweep (to test the
    degraded path, or for machines where namespaces misbehave).
    """
    os.makedirs(os.path.join(scratch, "ep"), exist_ok=True)
    os.makedirs(os.path.join(scratch, "dev"), exist_ok=True)
    try:
        _prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of degraded runs come back to us
    except OSError:
        pass
    if not enable:
        return Isolation(problems=("isolation disabled",))
    if _probe(lambda: _isolate(scratch, tmpfs_mb, strict=True)):
        iso = _isolate(scratch, tmpfs_mb, strict=False)
    else:
        iso = Isolation(problems=("namespaces unavailable (probe failed)",))
    sec = _probe(_probe_seccomp)
    problems = iso.problems + (() if sec else ("seccomp unavailable",))
    if iso.user or os.getuid() == 0:
        drop_bounding_set()
    return Isolation(user=iso.user, net=iso.net, mnt=iso.mnt, seccomp=sec, problems=problems)


def _isolate(scratch: str, tmpfs_mb: int, strict: bool) -> Isolation:
    """The work of :func:`isolate_process`; ``strict`` raises at the first problem."""
    problems: list[str] = []
    uid, gid = os.getuid(), os.getgid()
    user = net = mnt = False
    os.makedirs(os.path.join(scratch, "ep"), exist_ok=True)
    os.makedirs(os.path.join(scratch, "dev"), exist_ok=True)
    for flags in (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET, CLONE_NEWNS | CLONE_NEWNET):
        if flags & CLONE_NEWUSER == 0 and uid != 0:
            continue
        try:
            _unshare(flags)
        except OSError as exc:
            problems.append(str(exc))
            continue
        problems.clear()
        user, mnt, net = bool(flags & CLONE_NEWUSER), True, True
        break
    if user:
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
        except OSError as exc:
            problems.append(f"id maps: {exc}")
            if strict:  # unmapped ids could not even write the episode files
                raise
    own_ns = mnt
    if mnt:
        try:
            _mount(None, "/", None, MS_REC | MS_PRIVATE)
            _make_dev(os.path.join(scratch, "dev"))
            failed = _remount_all_readonly()
            # Pseudo file systems that refuse a read-only remount are tolerable (writes there
            # need privileges the sandbox drops); any real file system left writable is not.
            serious = [f for f in failed if f.split(" (", 1)[1].split(")")[0] not in _PSEUDO_FS]
            if serious:
                problems.extend(serious)
                mnt = False
        except OSError as exc:
            problems.append(f"mounts: {exc}")
            mnt = False
    if own_ns:
        try:  # the one writable place; its size caps what an episode can write in total
            _mount("tmpfs", os.path.join(scratch, "ep"), "tmpfs", MS_NOSUID | MS_NODEV,
                   f"size={tmpfs_mb}m,mode=700")
        except OSError as exc:
            problems.append(f"episode tmpfs: {exc}")
            mnt = False
            if strict:
                raise
    if strict and not own_ns:
        raise SandboxError(errno.EPERM, "; ".join(problems) or "no namespaces")
    return Isolation(user=user, net=net, mnt=mnt, problems=tuple(problems))


def _probe(fn: Callable[[], None]) -> bool:
    """Run ``fn`` in a forked child; True when it exits 0."""
    pid = os.fork()
    if pid == 0:
        try:
            fn()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


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
#: init_module, delete_module, kexec_load, keyctl, kexec_file_load.
_ARCH = {
    "x86_64": dict(audit=0xC000003E, fork=57, vfork=58, clone=56, clone3=435, execve=59,
                   execveat=322, socket=41, kill=62, tkill=200, tgkill=234,
                   deny=(101, 272, 308, 165, 166, 424, 434, 425, 426, 427, 321, 298, 323, 310, 311,
                         155, 163, 167, 168, 169, 175, 176, 246, 250, 320),
                   x32=True),
    "aarch64": dict(audit=0xC00000B7, fork=None, vfork=None, clone=220, clone3=435, execve=221,
                    execveat=281, socket=198, kill=129, tkill=130, tgkill=131,
                    deny=(117, 97, 268, 40, 39, 424, 434, 425, 426, 427, 280, 241, 282, 270, 271,
                          41, 89, 224, 225, 142, 105, 106, 104, 219, 294),
                    x32=False),
}


def _bpf(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)


def seccomp_program(own_pid: int) -> bytes:
    """BPF program: no fork/exec/clone3 (threads allowed), AF_UNIX sockets only, signals
    only to ``own_pid``, and no ptrace/namespaces/mount/io_uring/bpf/reboot-like calls."""
    arch = _ARCH[platform.machine()]
    ld_w, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    err = lambda e: SECCOMP_RET_ERRNO | e
    prog = [_bpf(ld_w, 0, 0, 4), _bpf(jeq, 1, 0, arch["audit"]), _bpf(ret, 0, 0, SECCOMP_RET_KILL_PROCESS),
            _bpf(ld_w, 0, 0, 0)]
    if arch["x32"]:
        prog += [_bpf(jge, 0, 1, 0x40000000), _bpf(ret, 0, 0, err(errno.EPERM))]
    for nr, e in ((arch["fork"], errno.EAGAIN), (arch["vfork"], errno.EAGAIN), (arch["clone3"], errno.ENOSYS),
                  (arch["execve"], errno.EPERM), (arch["execveat"], errno.EPERM)):
        if nr is not None:
            prog += [_bpf(jeq, 0, 1, nr), _bpf(ret, 0, 0, err(e))]
    for nr in arch["deny"]:
        prog += [_bpf(jeq, 0, 1, nr), _bpf(ret, 0, 0, err(errno.EPERM))]

    def arg0_block(nr: int, test: bytes, fail: int) -> list[bytes]:
        # if nr matches: load arg0, allow when `test` holds, else fail; A keeps nr otherwise
        return [_bpf(jeq, 0, 4, nr), _bpf(ld_w, 0, 0, 16), test, _bpf(ret, 0, 0, SECCOMP_RET_ALLOW),
                _bpf(ret, 0, 0, err(fail))]

    prog += arg0_block(arch["clone"], _bpf(jset, 0, 1, CLONE_THREAD), errno.EAGAIN)
    prog += arg0_block(arch["socket"], _bpf(jeq, 0, 1, 1), errno.EACCES)  # AF_UNIX == 1
    for name in ("kill", "tkill", "tgkill"):
        prog += arg0_block(arch[name], _bpf(jeq, 0, 1, own_pid), errno.EPERM)
    prog.append(_bpf(ret, 0, 0, SECCOMP_RET_ALLOW))
    return b"".join(prog)


#: Stands for the sandboxed process's pid in :class:`SeccompFilter`'s template program.
_PID_PLACEHOLDER = 0x7FFFFFF1


class SeccompFilter:
    """:func:`seccomp_program` built once, installed by many forked children.

    Building the program costs each child about as much as running a small test, so the
    grading process builds it with a placeholder pid and each child only writes its own
    pid into the three signal rules before installing it.
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


def _write_files(ep: str, files: dict[str, str]) -> None:
    """Write the episode's files (relative, already validated paths) into ``ep``."""
    for rel, text in files.items():
        if rel.startswith("/") or ".." in rel.split("/") or not rel:
            raise SandboxError(errno.EINVAL, f"unsafe path {rel!r}")
        path = os.path.join(ep, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(text)


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


def _contain_and_run(ep: str, iso: Isolation, rlimits: list[tuple[int, tuple[int, int]]],
                     seccomp: SeccompFilter | None, target: Callable[[str, int], int],
                     w_res: int, w_out: int) -> None:
    """The untrusted process: contain it, then run ``target(ep, result_fd)``; never returns.

    Its environment was scrubbed by the parent (:func:`_scrub_environ`) before the fork.
    """
    code = 70
    try:
        os.setsid()
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(w_out, 1)
        os.dup2(w_out, 2)
        os.dup2(w_res, 3)
        os.closerange(4, 1 << 16)
        os.chdir(ep)
        os.umask(0o022)
        for res, value in rlimits:
            resource.setrlimit(res, value)
        if iso.user or os.getuid() == 0:
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
    """What the child writes to one pipe: the head up to ``cap`` bytes (the result, with
    an overflow flag) or, with ``keep_tail``, the last ``cap`` bytes (the output)."""

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
            elif len(self.data) + len(chunk) > self.cap:
                self.overflow = True
            else:
                self.data += chunk


def _exit_watch(pid: int) -> int | None:
    """A pidfd that becomes readable when ``pid`` exits (None where unsupported)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def run_sandboxed(scratch: str, files: dict[str, str], target: Callable[[str, int], int],
                  iso: Isolation, limits: Limits = Limits()) -> RunOutcome:
    """Run ``target(episode_dir, result_fd)`` in a fresh contained child process.

    ``files`` are written into the (emptied) episode directory first. ``target`` runs in
    the untrusted process and may write a result message to ``result_fd``; whatever it
    writes comes back as ``RunOutcome.result`` (up to ``limits.result_bytes``). The exit
    status comes from ``waitpid``. For a grading process only: it replaces this
    process's environment by the sandbox's (see :func:`_scrub_environ`).
    """
    ep = os.path.join(scratch, "ep")
    os.makedirs(ep, exist_ok=True)
    clear_dir(ep)
    out = RunOutcome()
    start = time.monotonic()
    try:
        _write_files(ep, files)
    except OSError as exc:
        out.setup_error = f"writing the episode files failed: {exc}"
        clear_dir(ep)
        return out
    r_res, w_res = os.pipe()
    r_out, w_out = os.pipe()
    for fd in (r_res, r_out):
        _widen_pipe(fd)
        os.set_blocking(fd, False)
    _scrub_environ(ep)
    rlimits = _rlimits(limits)
    seccomp = seccomp_filter() if iso.seccomp else None
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid == 0:
        os.close(r_res)
        os.close(r_out)
        _contain_and_run(ep, iso, rlimits, seccomp, target, w_res, w_out)
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
    _kill(pid, group=True)
    _kill(pid)
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
    out.result = bytes(result.data) if result.data else None
    out.result_overflow = result.overflow
    if not out.timed_out:
        if os.WIFSIGNALED(status):
            out.signal = os.WTERMSIG(status)
        else:
            out.exit_code = os.waitstatus_to_exitcode(status)
    clear_dir(ep)
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
