"""The answers' shapes, after contracts/openapi.json (components/schemas). Dates are ISO 8601 strings."""
import sys
from typing import Any, Dict, List, Optional

if sys.version_info >= (3, 8):
    from typing import TypedDict
else:  # pragma: no cover
    TypedDict = dict

TERMINAL_STATES = ("succeeded", "failed", "cancelled", "timed_out", "interrupted")


class TaskView(TypedDict, total=False):
    id: int
    agent: str
    project: str
    name: Optional[str]
    state: str  # queued, starting, running, succeeded, failed, cancelled, timed_out, interrupted
    priority: int
    progress: Optional[float]
    progressMessage: Optional[str]
    attempts: int
    maxAttempts: int
    waitingReason: Optional[str]
    result: Any
    error: Optional[str]
    createdAt: str
    updatedAt: str
    startedAt: Optional[str]
    finishedAt: Optional[str]


class Artifact(TypedDict):
    attempt: int
    name: str
    path: str
    sizeBytes: int
    createdAt: str


class TaskDetail(TaskView, total=False):
    input: Dict[str, Any]
    artifacts: List[Artifact]
    attemptList: List[Dict[str, Any]]


class TaskPage(TypedDict):
    items: List[TaskView]
    nextCursor: Optional[int]


class Log(TypedDict):
    attempt: int
    text: str
    truncated: bool
    state: str


class AgentList(TypedDict):
    agents: List[Dict[str, Any]]
    problems: List[Dict[str, str]]


class QueueStatus(TypedDict, total=False):
    paused: bool
    running: int
    queued: int
    maxConcurrency: int
    counts: Dict[str, int]
