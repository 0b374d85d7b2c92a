"""The live view of a running sweep: runs done, current steps/s and ETA.

It reads only the run store (each run's ``status.json`` carries its step count, updated at
every checkpoint), so it works the same for every launcher, including Ray workers on other
machines writing to a shared file system.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from explore.runs import RunDir


def _fmt_duration(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "—"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class SweepProgress:
    """Polls the run store from a background thread and draws (or logs) progress.

    ``runs`` maps each run of this sweep to its step budget; ``done_before`` are the runs
    already complete when the sweep started (counted as skipped).
    """

    def __init__(
        self,
        title: str,
        runs: list[tuple[RunDir, int]],
        done_before: set[str],
        enabled: bool = True,
        console: Console | None = None,
        interval: float = 1.0,
        plain_interval: float = 30.0,
    ) -> None:
        self.title = title
        self.runs = runs
        self.total_steps = sum(budget for _, budget in runs)
        self.done_before = done_before
        self.enabled = enabled
        self.console = console or Console()
        self.interval = interval
        # Not a terminal (a log file, CI, a batch job): no live view, which would stay blank
        # until the end, but a plain progress line every ``plain_interval`` seconds.
        self.live = enabled and self.console.is_terminal
        self.plain_interval = plain_interval
        self._state: dict[str, tuple[str, int]] = {}
        self._old_failures: dict[str, Any] = {}
        self._history: collections.deque[tuple[float, int]] = collections.deque()
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: Live | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------- polling
    def poll(self) -> dict[str, Any]:
        """Read every unfinished run's status; returns the figures shown."""
        first = not self._state
        for run, budget in self.runs:
            name = run.path.name
            if name in self.done_before and name in self._state:
                continue
            try:
                status = run.status() or {}
            except (OSError, ValueError):
                status = {}
            state = str(status.get("status", "pending"))
            mark = (status.get("finished"), status.get("error"), status.get("steps"))
            if first and state == "failed":
                self._old_failures[name] = mark
            if state == "failed" and self._old_failures.get(name) == mark:
                state = "pending"  # a failure from an earlier sweep, retried by this one
            steps = budget if state == "completed" else int(status.get("steps") or 0)
            self._state[name] = (state, min(steps, budget))
        now = time.monotonic()
        steps = sum(s for _, s in self._state.values())
        self._history.append((now, steps))
        while len(self._history) > 2 and now - self._history[0][0] > 30:
            self._history.popleft()  # a 30 s window: current speed, not the average since start
        t0, s0 = self._history[0]
        rate = (steps - s0) / (now - t0) if now > t0 else 0.0
        states = [s for s, _ in self._state.values()]
        completed = sum(1 for s in states if s == "completed")
        failed = sum(1 for s in states if s == "failed")
        remaining = self.total_steps - steps
        return {
            "runs": len(self.runs),
            "completed": completed,
            "failed": failed,
            "running": sum(1 for s in states if s == "running"),
            "steps": steps,
            "steps_per_second": rate,
            "eta": remaining / rate if rate > 0 else float("nan"),
            "elapsed": now - self._started,
        }

    def _render(self, figures: dict[str, Any]) -> Text:
        done = figures["completed"] + figures["failed"]
        width = 20
        filled = int(width * figures["steps"] / self.total_steps) if self.total_steps else width
        failed = f" ({figures['failed']} failed)" if figures["failed"] else ""
        line = Text.assemble(
            (self.title, "bold"),
            " ",
            ("█" * filled, "green"),
            ("░" * (width - filled), "dim"),
            f" runs {done}/{figures['runs']}{failed}, {figures['running']} running",
            f" · {figures['steps']:,}/{self.total_steps:,} steps",
            f" · {figures['steps_per_second']:,.0f} steps/s",
            f" · ETA {_fmt_duration(figures['eta'])} · elapsed {_fmt_duration(figures['elapsed'])}",
        )
        line.no_wrap = True
        line.overflow = "ellipsis"
        return line

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                figures = self.poll()
                if self._live is not None:
                    self._live.update(self._render(figures))

    def _plain_loop(self) -> None:
        while not self._stop.wait(self.plain_interval):
            with self._lock:
                line = self._render(self.poll()).plain
            self.log(line)

    # ------------------------------------------------------------------------- lifecycle
    def __enter__(self) -> SweepProgress:
        self.poll()
        if self.enabled and not self.live:
            self._thread = threading.Thread(
                target=self._plain_loop, daemon=True, name="sweep-progress"
            )
            self._thread.start()
        elif self.enabled:
            self._live = Live(
                self._render(self.poll()),
                console=self.console,
                refresh_per_second=2,
                transient=False,
            )
            self._live.start()
            self._thread = threading.Thread(target=self._loop, daemon=True, name="sweep-progress")
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._live is not None:
            with self._lock:
                self._live.update(self._render(self.poll()))
                self._live.stop()

    def log(self, message: str) -> None:
        """Print a line (above the live view when there is one)."""
        with self._lock:
            self.console.print(message, highlight=False)
