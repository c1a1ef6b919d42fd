"""The agent SDK for Python: standard library only, Python 3.9+, one file.

An agent is a program the Manager starts for one task's attempt (README.md, "Agents"). This
module speaks that protocol for it::

    from agentmgr.agent import agent

    task = agent()
    text = open(task.input["file"], encoding="utf-8").read()
    task.progress(0.5, "upper-casing")
    with open(task.artifact_path("upper.txt"), "w", encoding="utf-8") as f:
        f.write(text.upper())
    task.artifact("upper.txt", "Upper-cased text")
    task.result({"chars": len(text)})

`agentmgr agent new NAME --lang py` writes a folder with a copy of this file in it, so the agent
runs wherever Python does, with nothing installed.
"""
import json
import math
import os
import shutil
import signal
import sys
from typing import Any, Callable, List, Mapping, NamedTuple, NoReturn, Optional

__all__ = ["Agent", "ArrayPosition", "agent", "SDK_VERSION"]

#: The SDK's version: `agentmgr agent check` says when a folder's copy is older than the Manager's.
SDK_VERSION = 1


class ArrayPosition(NamedTuple):
    """For a task of an array: the array's id and this task's index in it."""

    id: int
    index: int


def _emit(event: dict) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()  # so progress is live, and nothing is lost if the agent is stopped


def _need(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise RuntimeError(f"{name} is not set: this runs as an agent under the Manager (try `agentmgr agent check {os.getcwd()}`)")
    return value


class Agent:
    """One task's attempt, as the Manager started it."""

    def __init__(self, env: Optional[Mapping[str, str]] = None) -> None:
        env = os.environ if env is None else env
        self.name: str = env.get("AGENT_NAME") or os.path.basename(os.getcwd())
        self.task_id: int = int(_need(env, "AGENT_TASK_ID"))
        self.attempt: int = int(env.get("AGENT_ATTEMPT") or 1)
        input_path = _need(env, "AGENT_INPUT_PATH")
        try:
            with open(input_path, encoding="utf-8") as f:
                self.input: Any = json.load(f)
        except OSError as e:
            raise RuntimeError(f"cannot read the task's input at {input_path}: {e.strerror}") from None
        self.artifacts_dir: str = _need(env, "AGENT_ARTIFACTS_DIR")
        #: A folder of the task's own that outlives its attempts: checkpoints go here.
        self.state_dir: Optional[str] = env.get("AGENT_STATE_DIR") or None
        self.gpus: List[str] = [g for g in (env.get("CUDA_VISIBLE_DEVICES") or "").split(",") if g]
        self.array: Optional[ArrayPosition] = (
            ArrayPosition(int(env["AGENT_ARRAY_ID"]), int(env.get("AGENT_ARRAY_INDEX") or 0)) if env.get("AGENT_ARRAY_ID") else None
        )
        self.preemptible: bool = env.get("AGENT_PREEMPTIBLE") == "1"
        self.preempt_grace_sec: float = float(env.get("AGENT_PREEMPT_GRACE_SEC") or 30)
        self.resident_url: Optional[str] = env.get("AGENT_RESIDENT_URL") or None
        #: True once the Manager has asked the task to stop (a loop may check it).
        self.stopping: bool = False
        self._handlers: List[Callable[[], None]] = []

    def progress(self, fraction: float, message: Optional[str] = None) -> None:
        """How far along it is, from 0 to 1 (a ValueError otherwise), with an optional message."""
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not math.isfinite(fraction) or not 0 <= fraction <= 1:
            raise ValueError(f"progress({fraction!r}): progress is from 0 to 1")
        event = {"type": "progress", "progress": fraction}
        if message is not None:
            event["message"] = str(message)
        _emit(event)

    def log(self, message: str) -> None:
        """A line for the task's log."""
        _emit({"type": "log", "message": str(message)})

    def result(self, data: Any) -> None:
        """The task's result: any JSON value (the last one wins)."""
        try:
            line = json.dumps({"type": "result", "data": data}, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise TypeError(f"result(): the data is not JSON ({e})") from None
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def artifact_path(self, name: str) -> str:
        """Where to write an output file named `name`."""
        return os.path.join(self.artifacts_dir, name)

    def artifact(self, path: str, name: Optional[str] = None) -> str:
        """Reports an output file; one outside the artifacts folder is copied in first. Returns its path there."""
        full = os.path.abspath(os.path.join(self.artifacts_dir, path))
        root = os.path.abspath(self.artifacts_dir)
        if os.path.commonpath([full, root]) == root and full != root:
            inside = os.path.relpath(full, root)
        else:
            inside = os.path.basename(full)
            os.makedirs(root, exist_ok=True)
            shutil.copyfile(full, os.path.join(root, inside))
        event = {"type": "artifact", "path": inside}
        if name is not None:
            event["name"] = str(name)
        _emit(event)
        return os.path.join(root, inside)

    def fail(self, message: str, code: int = 1) -> NoReturn:
        """Ends the attempt as failed: `message` is its reason (the last line on stderr)."""
        sys.stdout.flush()
        sys.stderr.write(str(message).replace("\n", " ") + "\n")
        sys.stderr.flush()
        os._exit(code)

    def on_stop(self, handler: Callable[[], None]) -> None:
        """Calls `handler` when the Manager stops the task (cancel, timeout, preemption, pause
        --free-vram): the place to checkpoint into `state_dir`. Then the agent exits (code 143). A
        handler still at work one second before the grace ends is cut short, so the exit is the
        agent's own, not a SIGKILL."""
        self._handlers.append(handler)
        if len(self._handlers) == 1:
            signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, _signum: int, _frame: Any) -> None:
        if self.stopping:
            return
        self.stopping = True
        grace = max(0.5, self.preempt_grace_sec - 1)

        def cut(_s: int, _f: Any) -> None:
            sys.stderr.write(f"stopped: the stop handler did not finish within {grace:g} s\n")
            sys.stderr.flush()
            os._exit(143)

        signal.signal(signal.SIGALRM, cut)
        signal.setitimer(signal.ITIMER_REAL, grace)
        for h in self._handlers:
            try:
                h()
            except Exception as e:  # the stop goes on: report it, as the Manager would
                sys.stderr.write(f"the stop handler failed: {e}\n")
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(143)


def agent(main: Optional[Callable[[Agent], None]] = None) -> Agent:
    """The attempt the Manager started. Runs `main(task)` when given one; an exception it raises
    fails the attempt with its message as the reason."""
    try:
        task = Agent()
    except (RuntimeError, ValueError) as e:
        sys.stderr.write(f"{e}\n")
        sys.exit(2)
    if main is not None:
        try:
            main(task)
        except SystemExit:
            raise
        except Exception as e:
            task.fail(f"{type(e).__name__}: {e}")
    return task
