"""Jobs for the rq worker subprocess (it imports them by name: compat.apps.rq_jobs.add), and
the worker class it runs."""

from __future__ import annotations

from rq import Worker


def add(a: int, b: int) -> dict:
    return {"sum": a + b, "args": [a, b]}


def fail(message: str) -> None:
    raise ValueError(message)


class PromptWorker(Worker):
    """rq's worker (`rq worker -w compat.apps.rq_jobs.PromptWorker`) whose command-channel
    thread waits 0.5 s per read instead of 60 s. rq 3.0 unsubscribes before it stops that
    thread, and redis-py 8.2's `get_message` then waits out its whole timeout for a
    subscription: a worker took up to a minute to exit, against Redis as well."""

    def subscribe(self) -> None:
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=0.5, daemon=True, exception_handler=self._pubsub_exception_handler
        )
