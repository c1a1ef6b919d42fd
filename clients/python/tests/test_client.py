"""The Python client against a real `agentmgr serve` (started by test/clients/python.test.ts,
which sets AGENTMGR_DATA_DIR and AGENTMGR_URL). Run alone: python3 -m unittest discover -s tests."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from agentmgr import AgentManagerError, Client, find_endpoint  # noqa: E402


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.am = Client()

    def test_finds_the_manager_as_the_cli_does(self):
        url, token = find_endpoint()
        self.assertEqual(url, os.environ["AGENTMGR_URL"].rstrip("/"))
        with open(os.path.join(os.environ["AGENTMGR_DATA_DIR"], "api-token"), encoding="utf-8") as f:
            self.assertEqual(token, f.read().strip())
        self.assertTrue(self.am.health()["ok"])

    def test_submit_wait_get_logs(self):
        t = self.am.submit("ok", name="py one", priority=3)
        self.assertEqual(t["agent"], "ok")
        self.assertEqual(t["priority"], 3)
        self.assertRegex(t["createdAt"], r"^\d{4}-\d\d-\d\dT")
        done = self.am.wait(t["id"], timeout=30)
        self.assertEqual(done["state"], "succeeded")
        self.assertEqual(done["result"], {"ok": True})
        self.assertEqual([a["name"] for a in self.am.get(t["id"])["artifacts"]], ["greeting"])
        self.assertIn("a log event", self.am.logs(t["id"])["text"])

    def test_batch_list_priority_cancel_retry(self):
        self.am.pause()
        try:
            ids = self.am.submit_batch([{"agent": "hang", "name": "py batch"} for _ in range(3)])
            self.assertEqual(len(ids), 3)
            listed = [t["id"] for t in self.am.list(name="py batch", page_size=2)]  # two pages
            self.assertEqual(listed, list(reversed(ids)))
            self.assertEqual(self.am.set_priority(ids[0], 9)["priority"], 9)
            self.assertEqual(self.am.status()["paused"], True)
            for i in ids:
                self.assertEqual(self.am.cancel(i)["state"], "cancelled")
            self.assertEqual(self.am.retry(ids[0])["state"], "queued")
            self.am.cancel(ids[0])
            self.assertEqual(len(list(self.am.list(state=["cancelled"], name="py batch"))), 3)
        finally:
            self.am.resume()

    def test_wait_times_out(self):
        t = self.am.submit("hang", name="py hang")
        try:
            with self.assertRaises(TimeoutError):
                self.am.wait(t["id"], timeout=0.5)
        finally:
            self.am.cancel(t["id"])

    def test_follow_sees_changes_and_resumes(self):
        stream = self.am.follow(timeout=20)
        t = self.am.submit("ok", name="py follow")
        last = None
        for event_id, kind, data in stream:
            if kind == "task" and data["id"] == t["id"]:
                last = event_id
                break
        stream.close()
        self.assertIsNotNone(last)
        self.am.wait(t["id"], timeout=30)
        # Resuming after that event replays what came after it, up to its end.
        for event_id, kind, data in self.am.follow(last_event_id=last, timeout=20):
            self.assertEqual(kind, "task")
            if data["id"] == t["id"] and data["state"] == "succeeded":
                break

    def test_errors_carry_app_code(self):
        with self.assertRaises(AgentManagerError) as e:
            self.am.submit("no-such-agent")
        self.assertEqual(e.exception.app_code, "UNKNOWN_AGENT")
        self.assertEqual(e.exception.status, 404)
        self.assertIn('unknown agent "no-such-agent"', str(e.exception))
        with self.assertRaises(AgentManagerError) as e:
            self.am.get(999999)
        self.assertEqual(e.exception.app_code, "NOT_FOUND")
        with self.assertRaises(AgentManagerError) as e:
            self.am.submit("ok", colour="red")
        self.assertEqual(e.exception.app_code, "INVALID_INPUT")
        self.assertIn("colour", str(e.exception))
        with self.assertRaises(AgentManagerError) as e:
            Client(url=self.am.url, token="wrong").status()
        self.assertEqual(e.exception.app_code, "UNAUTHORIZED")

    def test_agents(self):
        names = [a["name"] for a in self.am.agents()["agents"]]
        self.assertIn("ok", names)


if __name__ == "__main__":
    unittest.main()
