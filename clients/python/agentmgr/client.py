"""The REST client: one class, urllib only."""
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from .types import TERMINAL_STATES, AgentList, Log, QueueStatus, TaskDetail, TaskPage, TaskView

PRODUCT = "Agent Manager"


class AgentManagerError(Exception):
    """An error the Manager answered with (its problem document), or a failure to reach it."""

    def __init__(self, message: str, app_code: str, status: Optional[int] = None, index: Optional[int] = None):
        super().__init__(message)
        self.app_code = app_code
        self.status = status
        self.index = index


def default_data_dir() -> str:
    if sys.platform == "win32":
        return os.path.join(os.environ.get("APPDATA", os.path.join(os.path.expanduser("~"), "AppData", "Roaming")), PRODUCT)
    if sys.platform == "darwin":
        return os.path.join(os.path.expanduser("~"), "Library", "Application Support", PRODUCT)
    return os.path.join(os.environ.get("XDG_CONFIG_HOME", os.path.join(os.path.expanduser("~"), ".config")), PRODUCT)


def find_endpoint(data_dir: Optional[str] = None) -> Tuple[str, str]:
    """(url, token) the way the CLI finds them: AGENTMGR_URL / AGENTMGR_TOKEN, else the data dir."""
    d = data_dir or os.environ.get("AGENTMGR_DATA_DIR") or default_data_dir()
    url = os.environ.get("AGENTMGR_URL")
    if not url:
        try:
            with open(os.path.join(d, "server.json"), encoding="utf-8") as f:
                url = json.load(f)["url"]
        except FileNotFoundError:
            raise AgentManagerError(f"no Manager is running for {d}: start one with `agentmgr serve` (or set AGENTMGR_URL)", "UNAVAILABLE") from None
    token = os.environ.get("AGENTMGR_TOKEN")
    if not token:
        try:
            with open(os.path.join(d, "api-token"), encoding="utf-8") as f:
                token = f.read().strip()
        except FileNotFoundError:
            raise AgentManagerError(f"no API token at {os.path.join(d, 'api-token')}: start `agentmgr serve` once, or set AGENTMGR_TOKEN", "UNAUTHORIZED") from None
    return url.rstrip("/"), token


class Client:
    """The Manager's REST API. Every method returns plain dicts shaped as the OpenAPI document says."""

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None, data_dir: Optional[str] = None, timeout: float = 30.0):
        if url is None or token is None:
            found_url, found_token = find_endpoint(data_dir)
            url, token = url or found_url, token or found_token
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    # ---- plumbing ---------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None, query: Optional[Dict[str, Any]] = None) -> Any:
        q = {k: v for k, v in (query or {}).items() if v is not None}
        url = f"{self.url}/api/v1{path}" + (f"?{urllib.parse.urlencode(q, doseq=True)}" if q else "")
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {self.token}"})
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return json.loads(r.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            raise self._problem(e) from None
        except urllib.error.URLError as e:
            raise AgentManagerError(f"cannot reach the Manager at {self.url}: {e.reason}; is `agentmgr serve` running?", "UNAVAILABLE") from None

    @staticmethod
    def _problem(e: "urllib.error.HTTPError") -> AgentManagerError:
        try:
            p = json.loads(e.read().decode("utf-8"))
            return AgentManagerError(p.get("detail") or str(e), p.get("appCode", "INTERNAL"), e.code, p.get("index"))
        except ValueError:
            return AgentManagerError(f"HTTP {e.code} from the Manager", "INTERNAL", e.code)

    # ---- tasks ------------------------------------------------------------------------------
    def submit(self, agent: str, input: Optional[Dict[str, Any]] = None, **fields: Any) -> TaskView:
        """One task; `fields` are the rest of a TaskSubmission (priority, name, project, resources, ...)."""
        return self._request("POST", "/tasks", {"agent": agent, **({"input": input} if input is not None else {}), **fields})

    def submit_batch(self, submissions: Iterable[Dict[str, Any]]) -> List[int]:
        """Many tasks in one transaction (all or none); their ids, in order."""
        return self._request("POST", "/tasks:batch", list(submissions))["ids"]

    def get(self, task_id: int) -> TaskDetail:
        return self._request("GET", f"/tasks/{int(task_id)}")

    def page(self, state: Optional[Iterable[str]] = None, agent: Optional[str] = None, name: Optional[str] = None, cursor: Optional[int] = None, limit: int = 100) -> TaskPage:
        return self._request("GET", "/tasks", query={"state": ",".join(state) if state else None, "agent": agent, "name": name, "cursor": cursor, "limit": limit})

    def list(self, state: Optional[Iterable[str]] = None, agent: Optional[str] = None, name: Optional[str] = None, page_size: int = 100) -> Iterator[TaskView]:
        """Every matching task, newest first, fetching a page at a time as you iterate."""
        states = list(state) if state else None
        cursor = None
        while True:
            p = self.page(states, agent, name, cursor, page_size)
            yield from p["items"]
            cursor = p["nextCursor"]
            if cursor is None:
                return

    def cancel(self, task_id: int) -> TaskView:
        return self._request("POST", f"/tasks/{int(task_id)}:cancel")

    def retry(self, task_id: int, with_dependents: bool = False) -> TaskView:
        return self._request("POST", f"/tasks/{int(task_id)}:retry", {"withDependents": True} if with_dependents else None)

    def set_priority(self, task_id: int, priority: int) -> TaskView:
        return self._request("POST", f"/tasks/{int(task_id)}:priority", {"priority": priority})

    def logs(self, task_id: int, attempt: Optional[int] = None, tail_bytes: Optional[int] = None) -> Log:
        return self._request("GET", f"/tasks/{int(task_id)}/logs", query={"attempt": attempt, "tailBytes": tail_bytes})

    def wait(self, task_id: int, timeout: Optional[float] = None, poll: float = 0.25) -> TaskDetail:
        """The task once it has ended; TimeoutError if it has not within `timeout` seconds."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            t = self.get(task_id)
            if t["state"] in TERMINAL_STATES:
                return t
            if end is not None and time.monotonic() > end:
                raise TimeoutError(f"task {task_id} is still {t['state']} after {timeout} s")
            time.sleep(poll)

    def follow(self, last_event_id: Optional[str] = None, timeout: Optional[float] = None) -> Iterator[Tuple[str, str, Any]]:
        """Every change as it happens, from /api/v1/events: (event id, event type, data).

        The type is "task" (data: a TaskView) or "reset" (changes were missed: fetch the tasks
        again). Give the last id seen as `last_event_id` to resume after a disconnect. The stream
        is connected when this returns, so a task submitted after it is seen from its first change.
        """
        req = urllib.request.Request(f"{self.url}/api/v1/events", headers={"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"})
        if last_event_id:
            req.add_header("Last-Event-ID", last_event_id)
        # Connected here, not at the first next(): what happens after follow() returns is seen.
        try:
            r = urllib.request.urlopen(req, timeout=timeout)
        except urllib.error.HTTPError as e:
            raise self._problem(e) from None
        return _read_events(r)

    # ---- the rest ---------------------------------------------------------------------------
    def agents(self) -> AgentList:
        return self._request("GET", "/agents")

    def status(self) -> QueueStatus:
        return self._request("GET", "/status")

    def health(self) -> Dict[str, Any]:
        return self._request("GET", "/health")

    def pause(self) -> Dict[str, Any]:
        return self._request("POST", "/queue:pause")

    def resume(self) -> Dict[str, Any]:
        return self._request("POST", "/queue:resume")


def _read_events(r: Any) -> Iterator[Tuple[str, str, Any]]:
    """The server-sent events of an open /api/v1/events response, until it ends."""
    with r:
        fields: Dict[str, str] = {}
        for raw in r:
            line = raw.decode("utf-8").rstrip("\r\n")
            if line == "":
                if "data" in fields:
                    yield fields.get("id", ""), fields.get("event", "message"), json.loads(fields["data"])
                fields = {}
            elif not line.startswith(":") and ":" in line:
                k, v = line.split(":", 1)
                fields[k] = v[1:] if v.startswith(" ") else v
