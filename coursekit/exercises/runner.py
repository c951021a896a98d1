"""Run one student notebook in isolation, under a hard wall-clock limit.

:func:`run_isolated` copies the student's folder into a fresh temporary folder, writes the
notebook to run there and starts a *worker* process in a session of its own. The worker
executes the notebook with nbclient (one kernel, cwd = the copy, errors allowed, each cell
interrupted after ``cell_timeout`` seconds) and writes one JSON line per cell it starts and
finishes. The parent waits at most ``notebook_timeout`` seconds; then, and in every case
when the worker is done, it kills the worker's process group and every process that carries
the run's marker in its environment: the kernel (which jupyter_client starts in a session
of its own) and whatever the notebook started in the background. A loop that swallows
``KeyboardInterrupt`` therefore costs at most ``notebook_timeout`` seconds, and what ran
before it is still reported.

The marker is the environment variable ``COURSEKIT_GRADE_RUN``; finding the processes that
carry it reads ``/proc`` (Linux). Elsewhere only the worker's process group is killed.

Student code runs as the grader's user: the temporary copy keeps one notebook's relative
paths away from another's files, not a determined student. For that, grade in a container
(docs/teaching.md, "Collecting and grading").
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

MARKER_ENV = "COURSEKIT_GRADE_RUN"
_ACTIVE: dict[str, int] = {}  # token -> worker pid of the runs in progress
_ACTIVE_LOCK = threading.Lock()
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
_MAX_TEXT = 4000  # characters of a cell's stdout kept (its end: where a check's token is)


@dataclass
class NotebookRun:
    """What happened when a notebook ran.

    ``cells[i]`` holds, for every code cell that finished, ``{"ename", "evalue", "stdout"}``
    (``ename`` None when it raised nothing); ``started`` lists the cells sent to the kernel,
    in order. ``outcome`` is ``"ok"``, ``"timeout"`` (the notebook's wall-clock limit),
    ``"died"`` (the kernel died: the code exited or ran out of memory) or ``"crashed"``
    (the worker itself failed: ``detail`` says why)."""

    cells: dict[int, dict] = field(default_factory=dict)
    started: list[int] = field(default_factory=list)
    outcome: str = "ok"
    detail: str = ""
    seconds: float = 0.0
    killed: int = 0  # processes killed after the run (kernel, background processes)

    @property
    def unfinished(self) -> int | None:
        """The cell that was running when the run stopped, if any."""
        if self.started and self.started[-1] not in self.cells:
            return self.started[-1]
        return None


def _copy_folder(folder: Path | None, work: Path) -> None:
    if folder is None:
        work.mkdir()
        return
    shutil.copytree(folder, work, symlinks=True,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", ".git"))


def _marked_pids(token: str) -> list[int]:
    """Processes whose environment holds ``MARKER_ENV=token`` (Linux; [] elsewhere)."""
    needle = f"{MARKER_ENV}={token}".encode()
    pids = []
    proc = Path("/proc")
    if not proc.is_dir():
        return pids
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:  # gone, or not ours
            continue
    return pids


def kill_run(pgid: int | None, token: str) -> int:
    """Kill the worker's process group and every process carrying the run's marker; return
    how many marked processes were found. Repeats while new ones appear (a process that was
    forking when the first sweep ran)."""
    if pgid is not None:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    seen: set[int] = set()
    for _ in range(5):
        pids = [p for p in _marked_pids(token) if p not in seen]
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        seen.update(pids)
        time.sleep(0.05)
    return len(seen)


def kill_all() -> int:
    """Kill every run in progress (the grader was interrupted); return how many."""
    with _ACTIVE_LOCK:
        active = dict(_ACTIVE)
    for token, pid in active.items():
        kill_run(pid, token)
    return len(active)


def _read_progress(path: Path, run: NotebookRun) -> None:
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by the kill
            continue
        if "start" in event:
            run.started.append(event["start"])
        elif "done" in event:
            run.cells[event["done"]] = {k: event.get(k) for k in ("ename", "evalue", "stdout")}
        elif "end" in event:
            if event["end"] != "ok":
                run.outcome, run.detail = event["end"], event.get("detail", "")


def run_isolated(nb, name: str, folder: Path | None = None, cell_timeout: int = 120,
                 notebook_timeout: int = 900, fast: bool = True) -> NotebookRun:
    """Run notebook ``nb`` (an nbformat node) as ``name`` inside a fresh copy of ``folder``
    (the student's submission folder; None: an empty folder). See the module docstring."""
    import nbformat

    if cell_timeout <= 0 or notebook_timeout <= 0:
        raise ValueError("cell_timeout and notebook_timeout must be positive seconds")
    run = NotebookRun()
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="coursekit-grade-") as tmp:
        tmp = Path(tmp)
        work = tmp / "work"
        _copy_folder(folder, work)
        target = work / name
        if target.is_symlink() or target.exists():
            target.unlink()
        nbformat.write(nb, target)
        progress = tmp / "progress.jsonl"
        env = dict(os.environ, LMLIB_FAST="1" if fast else "0", **{MARKER_ENV: token})
        env.pop("JPY_PARENT_PID", None)
        code = ("import sys; sys.path.insert(0, sys.argv[1]); "
                "from coursekit.exercises.runner import worker_main; worker_main(sys.argv[2:])")
        cmd = [sys.executable, "-c", code, str(_PACKAGE_ROOT), str(target), str(progress),
               str(cell_timeout)]
        start = time.monotonic()
        with open(tmp / "worker.log", "wb") as log:
            proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            with _ACTIVE_LOCK:
                _ACTIVE[token] = proc.pid
            try:
                proc.wait(timeout=notebook_timeout)
            except subprocess.TimeoutExpired:
                run.outcome = "timeout"
                run.detail = f"the notebook ran longer than {notebook_timeout} s and was stopped"
            finally:  # also when the grader itself is interrupted
                run.killed = kill_run(proc.pid, token)
                proc.wait()
                with _ACTIVE_LOCK:
                    _ACTIVE.pop(token, None)
        run.seconds = time.monotonic() - start
        timed_out = run.outcome == "timeout"
        _read_progress(progress, run)
        if timed_out:
            run.outcome = "timeout"
            run.detail = f"the notebook ran longer than {notebook_timeout} s and was stopped"
        elif proc.returncode != 0 and run.outcome == "ok":
            tail = (tmp / "worker.log").read_text(encoding="utf-8", errors="replace")[-800:]
            run.outcome, run.detail = "crashed", f"the grader's worker failed: {tail.strip()}"
    return run


def worker_main(argv: list[str]) -> None:
    """The worker: execute the notebook at ``argv[0]``, logging to ``argv[1]``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    path, progress, cell_timeout = Path(argv[0]), Path(argv[1]), int(argv[2])
    nb = nbformat.read(path, as_version=4)
    log = open(progress, "a", encoding="utf-8", buffering=1)

    def emit(**event):
        log.write(json.dumps(event) + "\n")
        log.flush()

    def started(cell, cell_index):
        emit(start=cell_index)

    def finished(cell, cell_index, execute_reply):
        ename = evalue = None
        stdout = []
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error" and ename is None:
                ename, evalue = out.get("ename", "Error"), str(out.get("evalue", ""))
            elif kind == "stream" and out.get("name") == "stdout":
                stdout.append(out.get("text", ""))
        emit(done=cell_index, ename=ename, evalue=evalue, stdout="".join(stdout)[-_MAX_TEXT:])

    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=True, on_cell_execute=started,
                            on_cell_executed=finished,
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
        emit(end="ok")
    except DeadKernelError:
        emit(end="died", detail="the kernel died (the code exited or ran out of memory)")
    except Exception as err:  # noqa: BLE001 (reported as the notebook's error)
        emit(end="crashed", detail=f"{type(err).__name__}: {err}")
    log.close()
