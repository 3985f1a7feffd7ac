"""The embedded backend (SQLite, `make run`): jobs run in this process, after the commit.

Jobs enqueued in a transaction wait in the session until it commits (a rollback drops them),
then go to one background thread that runs them in order, with the same retry rule as the
queue (a retry waits on a timer). Nothing is stored: jobs queued or waiting for a retry are
lost when the process stops. That is the trade-off of the one-command setup; PostgreSQL with
`flask jobs worker` is the durable one.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from app.jobs.registry import Task, retry_delay, run, should_retry

log = logging.getLogger("app.jobs")


@dataclass(order=True)
class _Item:
    due: float
    seq: int
    app: Flask = field(compare=False)
    task: Task = field(compare=False)
    args: dict[str, Any] = field(compare=False)
    attempt: int = field(compare=False, default=1)


class Runner:
    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.heap: list[_Item] = []
        self.running = 0
        self.seq = itertools.count(1)
        self.thread: threading.Thread | None = None

    def submit(self, app: Flask, task: Task, args: dict[str, Any], attempt: int = 1,
               delay: float = 0.0) -> None:
        with self.lock:
            heapq.heappush(self.heap, _Item(time.monotonic() + delay, next(self.seq), app, task,
                                            args, attempt))
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="jobs", daemon=True)
                self.thread.start()
            self.lock.notify_all()

    def _loop(self) -> None:
        while True:
            with self.lock:
                while not self.heap or self.heap[0].due > time.monotonic():
                    timeout = self.heap[0].due - time.monotonic() if self.heap else None
                    self.lock.wait(timeout)
                item = heapq.heappop(self.heap)
                self.running += 1
            try:
                run(item.app, item.task, item.args, job_id=f"local-{item.seq}",
                    attempt=item.attempt)
            except Exception as exc:  # noqa: BLE001 - logged by run(); decide on a retry
                if should_retry(item.app, item.task, item.attempt, exc):
                    self.submit(item.app, item.task, item.args, item.attempt + 1,
                                retry_delay(item.app, item.attempt, exc))
            finally:
                with self.lock:
                    self.running -= 1
                    self.lock.notify_all()

    def wait_idle(self, timeout: float | None) -> bool:
        """Block until no job is queued, waiting for a retry or running."""
        with self.lock:
            return self.lock.wait_for(lambda: not self.heap and not self.running, timeout)


runner = Runner()


def _reset_after_fork() -> None:
    # Threads do not survive fork (gunicorn workers); neither may a lock held at that moment.
    global runner
    runner = Runner()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
