"""Process-level containment of a grading process: namespaces, a minimal root, a run uid.

A grading process calls :func:`enter` once, before it forks any sandboxed run. After it:

* **pid**: the process is the init (pid 1) of a new PID namespace with its own ``/proc``,
  so a run sees no process of the host (nothing to signal, re-limit or read the command
  line of). The process that called :func:`enter` stays outside as a shim that only waits
  for it and exits with its status; a run cannot signal init (signals from inside a PID
  namespace reach its init only where init installed a handler, and it installs none).
* **net**: a new network namespace without a usable interface.
* **mount** and **root**: a new mount namespace whose root is a tmpfs holding, read-only,
  only what a run needs: the interpreter's standard library (its ``site-packages``
  hidden), the shared libraries, the packages of ``site-packages`` the tests import
  (pytest and its dependencies, nothing else: no HumanEval data, no project source), a
  tiny ``/dev``; and the episode directory and the tests' directory of split runs, the
  only writable places. The host's file tree
  is unmounted (``pivot_root``), so neither ``/etc``, nor the grader's cache directory,
  nor a Unix socket on the host has a path inside.
* **uid**: when the grader runs as root, each run switches to a host uid and gid that no
  other process has (:data:`RUN_ID_BASE` plus the worker's pid), so the kernel's own
  permission checks keep it away from every other process and file. Unprivileged
  graders cannot create such a uid (a user namespace maps only its creator's uid), so
  their runs keep the grader's uid and the layer is reported missing.

Each layer is probed, not assumed: :func:`enter` first tries the whole set-up in a
throwaway child, and where the machine refuses a layer (no user namespaces in a
container, ``pivot_root`` refused) it falls back to fewer layers and says which are
missing, so that the grader can refuse to run below ``grader.min_isolation``.

Standard library only: imported by worker processes started outside the ``rhem`` package.
"""

from __future__ import annotations

import ctypes
import os
import platform
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWPID = 0x00020000, 0x10000000, 0x40000000, 0x20000000

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
#: statvfs flags a read-only bind must keep (a user namespace may not clear them).
_KEEP_FLAGS = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
               (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
               (os.ST_RELATIME, MS_RELATIME))

#: The layers this module sets up, in the order reported.
LAYERS: tuple[str, ...] = ("uid", "pid", "net", "mount", "root")
#: Runs of a root grader use uid = gid = RUN_ID_BASE + the worker's host pid: far above
#: any uid a system allocates (Debian's dynamic range ends at 59999, systemd's at 2^31 - 1
#: minus a few containers' ranges), below 2^31, one per worker.
RUN_ID_BASE = 0x7E000000
#: Device nodes bound into the sandbox's /dev.
DEVICES = ("null", "zero", "full", "random", "urandom")

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Namespaces:
    """What :func:`enter` set up: the layers, the problems met, the runs' uid and gid
    (``None``: runs keep the grader's)."""

    layers: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    run_id: int | None = None


class ContainmentError(OSError):
    """A containment step failed."""


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise ContainmentError(err, f"{what}: {os.strerror(err)}")


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()
    _check(_libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _site_dirs() -> list[str]:
    return [p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages"))]


def root_paths() -> tuple[list[str], list[str]]:
    """Host paths a run needs (read-only) and directories to hide under them.

    * every ``sys.path`` entry inside the interpreter's installation that is not a
      ``site-packages`` (the standard library, its zip and ``lib-dynload``); not the
      worker's own directory nor an editable install's source path (the project's source);
    * every file this process has mapped (the interpreter, ``libpython``, extension
      modules, libc) and the directories of its shared libraries (later ``dlopen``s, such
      as libffi for ctypes), plus ``/etc/ld.so.cache``;
    * in each ``site-packages``, the top-level entries of the modules imported now: the
      grading process imports pytest before it calls :func:`enter`, so these are pytest
      and its dependencies.

    Hidden: ``site-packages`` and ``dist-packages`` under any exposed directory.
    """
    sites = _site_dirs()
    install = tuple({os.path.abspath(p).rstrip("/") + "/" for p in (sys.base_prefix, sys.base_exec_prefix)})
    paths: set[str] = set()
    for entry in sys.path:
        entry = os.path.abspath(entry) if entry else ""
        if entry.startswith(install) and entry not in sites and os.path.exists(entry):
            paths.add(entry)
    with open("/proc/self/maps") as fh:
        mapped = {parts[5] for parts in (line.split(maxsplit=5) for line in fh)
                  if len(parts) == 6 and parts[5].startswith("/")}
    for path in (p.strip() for p in mapped):
        if not os.path.isfile(path) or any(path.startswith(s.rstrip("/") + "/") for s in sites):
            continue
        paths.add(path)
        if ".so" in os.path.basename(path) and not path.startswith(tuple(p + "/" for p in paths
                                                                          if os.path.isdir(p))):
            paths.add(os.path.dirname(path))
    if os.path.isfile("/etc/ld.so.cache"):
        paths.add("/etc/ld.so.cache")
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not isinstance(path, str):
            continue
        for site in sites:
            prefix = site.rstrip("/") + "/"
            if path.startswith(prefix):
                paths.add(prefix + path[len(prefix):].split("/")[0])
    hidden = [os.path.join(p, name) for p in paths if os.path.isdir(p)
              for name in ("site-packages", "dist-packages") if os.path.isdir(os.path.join(p, name))]
    return sorted(paths), sorted(hidden)


def _bind_readonly(src: str, dst: str) -> None:
    """Bind ``src`` at ``dst`` read-only, keeping the flags the source mount has."""
    _mount(src, dst, None, MS_BIND)
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
    f_flag = os.statvfs(src).f_flag
    for st, ms in _KEEP_FLAGS:
        if f_flag & st:
            flags |= ms
    _mount(None, dst, None, flags)


def mount_empty(path: str) -> None:
    """Cover the directory ``path`` with an empty, read-only tmpfs."""
    _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555")


def _episode_tmpfs(path: str, tmpfs_mb: int, run_id: int | None) -> None:
    """A private tmpfs at ``path`` owned by the runs' uid (the grader's when ``None``)."""
    owner = "" if run_id is None else f",uid={run_id},gid={run_id}"
    os.makedirs(path, exist_ok=True)
    _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmpfs_mb}m,mode=700{owner}")


def _mountpoint(path: str, like: str) -> None:
    """Create ``path`` as a directory or an empty file, like the host path ``like``."""
    if os.path.isdir(like):
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.exists(path):
            open(path, "a").close()


def episode_dirs(ep: str) -> tuple[str, str]:
    """The writable places: the episode directory and, beside it, the tests' directory of
    split runs (:func:`rhem.envs.sandbox.run_sandboxed`)."""
    return ep, os.path.join(os.path.dirname(ep), "tests")


def _build_root(root: str, ep: str, tmpfs_mb: int, run_id: int | None, proc: bool) -> None:
    """Make ``root`` a tmpfs holding :func:`root_paths`, /dev, /proc (when ``proc``) and the
    episode tmpfs at ``ep``'s own path, then make it the process's root."""
    paths, hidden = root_paths()
    os.makedirs(root, exist_ok=True)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    for name in os.listdir("/"):  # /lib -> usr/lib and the like: the loader's paths
        if os.path.islink("/" + name):
            os.symlink(os.readlink("/" + name), os.path.join(root, name))
    bound: list[str] = []
    for path in paths:  # sorted: a directory comes before what is under it
        if any(path.startswith(b.rstrip("/") + "/") for b in bound):
            continue
        target = root + path
        _mountpoint(target, path)
        _bind_readonly(path, target)
        bound.append(path)
    for path in hidden:
        mount_empty(root + path)
    dev = os.path.join(root, "dev")
    os.makedirs(dev)
    _mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=755")
    for name in DEVICES:
        open(os.path.join(dev, name), "w").close()
        _mount(f"/dev/{name}", os.path.join(dev, name), None, MS_BIND)
    for name, dest in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                       ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(dest, os.path.join(dev, name))
    _mount(None, dev, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC)
    for folder in episode_dirs(ep):
        _episode_tmpfs(root + folder, tmpfs_mb, run_id)
    os.makedirs(os.path.join(root, "proc"))
    os.chdir(root)
    _check(_libc.syscall(_PIVOT_ROOT[platform.machine()], b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "unmount the host's root")
    os.chdir("/")
    if proc:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    sys.path_importer_cache.clear()  # directory listings of the host's site-packages
    import importlib

    importlib.invalidate_caches()


def _shim(child: int) -> None:
    """The calling process after the PID namespace's init was forked: wait, exit alike."""
    for fd in (0, 1):
        os.close(fd)  # the protocol pipes belong to init now: EOF follows its death
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


def _enter(scratch: str, tmpfs_mb: int, pid: bool, root: bool) -> Namespaces:
    """One attempt at the layers asked for; raises on the first that fails."""
    host_uid, host_gid, host_pid = os.getuid(), os.getgid(), os.getpid()
    privileged = host_uid == 0
    flags = CLONE_NEWNS | CLONE_NEWNET | (CLONE_NEWPID if pid else 0)
    if not privileged:  # an unprivileged process needs a user namespace for the rest
        flags |= CLONE_NEWUSER
    _check(_libc.unshare(flags), f"unshare({flags:#x})")
    if not privileged:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{host_uid} {host_uid} 1")
        _write("/proc/self/gid_map", f"{host_gid} {host_gid} 1")
    if pid:
        child = os.fork()
        if child:
            _shim(child)
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the shim was killed: go too
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # runs may not read or write init's memory
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    run_id = RUN_ID_BASE + host_pid if privileged else None
    ep = os.path.join(scratch, "ep")
    if root:
        _build_root(os.path.join(scratch, "root"), ep, tmpfs_mb, run_id, proc=pid)
    else:
        _remount_readonly_with_episode(ep, tmpfs_mb, run_id)
    layers = ("uid",) * (run_id is not None) + ("pid",) * pid + ("net", "mount") + ("root",) * root
    return Namespaces(layers=layers, run_id=run_id)


def _remount_readonly_with_episode(ep: str, tmpfs_mb: int, run_id: int | None) -> None:
    """The fallback where no new root can be made: every mount read-only, /dev replaced,
    the episode a tmpfs. The host's files stay visible (the ``root`` layer is missing)."""
    with open("/proc/self/mountinfo") as fh:
        targets = [line.split()[4] for line in fh]
    for target in targets:
        target = target.encode().decode("unicode_escape") if "\\" in target else target
        try:
            f_flag = os.statvfs(target).f_flag
            flags = MS_REMOUNT | MS_BIND | MS_RDONLY
            for st, ms in _KEEP_FLAGS:
                if f_flag & st:
                    flags |= ms
            _mount(None, target, None, flags)
        except OSError:
            pass  # pseudo file systems refuse; writing there needs the privileges runs drop
    for folder in episode_dirs(ep):
        _episode_tmpfs(folder, tmpfs_mb, run_id)


def probe(fn: Callable[[], object]) -> str | None:
    """Run ``fn`` in a forked child; ``None`` when it succeeded, else why not."""
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(r)
        try:
            fn()
            os._exit(0)
        except BaseException as exc:
            os.write(w, repr(exc).encode()[:500])
            os._exit(1)
    os.close(w)
    why = b""
    while chunk := os.read(r, 4096):
        why += chunk
    os.close(r)
    _, status = os.waitpid(child, 0)
    return None if os.waitstatus_to_exitcode(status) == 0 else (why.decode() or f"status {status}")


def enter(scratch: str, tmpfs_mb: int) -> Namespaces:
    """Contain this (single-threaded) process with as many layers as the machine allows.

    ``scratch`` is an existing directory of this process; ``scratch/ep`` becomes the
    episode tmpfs of ``tmpfs_mb`` MiB. With a PID namespace this returns in a new process
    (the namespace's init) and the caller's process never returns (see :func:`_shim`).
    Each configuration is tried in a throwaway child first, so a half-done set-up never
    leaves this process unable to grade.
    """
    problems: list[str] = []
    for pid, root in ((True, True), (False, True), (True, False), (False, False)):
        why = probe(lambda pid=pid, root=root: _enter(scratch, tmpfs_mb, pid, root))
        if why is None:
            result = _enter(scratch, tmpfs_mb, pid, root)
            return Namespaces(result.layers, tuple(problems), result.run_id)
        problems.append(f"{'pid+' * pid}{'root' if root else 'read-only mounts'}: {why}")
    if os.getuid() != 0:
        problems.append("no namespaces: runs keep the grader's uid")
    return Namespaces(problems=tuple(problems))

