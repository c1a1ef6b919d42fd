"""A client for the Agent Manager's REST API (/api/v1), standard library only, Python 3.9+.

    from agentmgr import Client
    am = Client()                      # finds the Manager as `agentmgr` does
    task = am.submit("demo", {"seconds": 2})
    done = am.wait(task["id"], timeout=60)
    print(done["state"], done["result"])

The shapes (TaskView, TaskDetail, ...) are those of contracts/openapi.json.
"""
from .client import AgentManagerError, Client, find_endpoint
from .types import AgentList, Log, QueueStatus, TaskDetail, TaskPage, TaskView

__all__ = ["Client", "AgentManagerError", "find_endpoint", "TaskView", "TaskDetail", "TaskPage", "Log", "AgentList", "QueueStatus"]
