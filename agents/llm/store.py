"""The label store: every LLM label is paid for once and reused by every run, seed and sweep.

A SQLite file with two tables. Where it is (:func:`default_path`): the bonus's ``store=``
if given, else ``$EXPLORE_LABELS_DB``, else ``<out>/labels.sqlite`` next to the runs of
``explore train``/``sweep`` (``out=`` / the sweep directory; the path is printed when training
starts), else ``runs/labels.sqlite`` for code outside a training run:

* ``labels`` — key ``(annotator, model, prompt_hash, caption)`` → ``label`` in [0, 1];
* ``preferences`` — key ``(annotator, model, prompt_hash, caption_1, caption_2)`` →
  ``preference`` = P(caption 1 is the more helpful), for ranking reward models;

plus ``prompts`` (hash → full template text) so an exported label set says what was asked.

Concurrency and durability: WAL journal (readers never block the writer), a busy timeout,
``INSERT OR IGNORE`` (the first label of a key wins, so concurrent writers of the same
caption agree), one ``BEGIN IMMEDIATE`` transaction per batch, and ``synchronous=FULL``:
a committed label survives a crash of the process or the machine; a writer killed
mid-transaction loses only that uncommitted batch. Connections are per thread, so a store
object can be shared by the labelling thread and the training loop.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATH = os.path.join("runs", "labels.sqlite")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS labels (
    annotator   TEXT NOT NULL,
    model       TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    caption     TEXT NOT NULL,
    label       REAL NOT NULL,
    raw         TEXT NOT NULL DEFAULT '',
    created     REAL NOT NULL,
    PRIMARY KEY (annotator, model, prompt_hash, caption)
);
CREATE TABLE IF NOT EXISTS preferences (
    annotator   TEXT NOT NULL,
    model       TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    caption_1   TEXT NOT NULL,
    caption_2   TEXT NOT NULL,
    preference  REAL NOT NULL,
    raw         TEXT NOT NULL DEFAULT '',
    created     REAL NOT NULL,
    PRIMARY KEY (annotator, model, prompt_hash, caption_1, caption_2)
);
CREATE TABLE IF NOT EXISTS prompts (
    prompt_hash TEXT PRIMARY KEY,
    text        TEXT NOT NULL
);
"""

Key = tuple[str, str, str]  # (annotator, model, prompt_hash)


_run_default: str | None = None  # set by `explore train` while it trains: <out>/labels.sqlite


def default_path() -> str:
    """``$EXPLORE_LABELS_DB``, else the store of the training run in progress
    (``<out>/labels.sqlite``, see :func:`default_store_under`), else ``runs/labels.sqlite``."""
    return os.environ.get("EXPLORE_LABELS_DB") or _run_default or DEFAULT_PATH


@contextmanager
def default_store_under(folder: str | Path) -> Iterator[str]:
    """While inside, :func:`default_path` is ``<folder>/labels.sqlite`` (unless
    ``$EXPLORE_LABELS_DB`` is set); yields the path the store will have. The training loop
    wraps a run store's ``out`` folder in it, so labels live with the runs they served."""
    global _run_default
    previous = _run_default
    _run_default = os.path.join(str(folder), "labels.sqlite")
    try:
        yield default_path()
    finally:
        _run_default = previous


@dataclass(frozen=True)
class LabelRow:
    """One stored label."""

    annotator: str
    model: str
    prompt_hash: str
    caption: str
    label: float
    raw: str = ""
    created: float = 0.0


@dataclass(frozen=True)
class PreferenceRow:
    """One stored pairwise preference: P(``caption_1`` more helpful than ``caption_2``)."""

    annotator: str
    model: str
    prompt_hash: str
    caption_1: str
    caption_2: str
    preference: float
    raw: str = ""
    created: float = 0.0


class LabelStore:
    """SQLite-backed, multi-process-safe store of labels and preferences (see module doc)."""

    def __init__(self, path: str | os.PathLike | None = None, busy_timeout: float = 30.0) -> None:
        self.path = str(path if path is not None else default_path())
        self.busy_timeout = float(busy_timeout)
        if self.path == ":memory:":  # one database per connection: useless across threads
            raise ValueError("label store: ':memory:' is not shared across threads; use a file")
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._retry(lambda conn: conn.executescript(_SCHEMA))

    # -- connections ---------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves.
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            self._retry_once(conn, "PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _retry_once(self, conn: sqlite3.Connection, sql: str) -> None:
        # Switching to WAL needs a brief exclusive lock that the busy handler does not cover.
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                conn.execute(sql)
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _retry(self, fn):
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                return fn(self._connect())
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) and "busy" not in str(err):
                    raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        self._retry_once(conn, "BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this object opened (in any thread)."""
        with self._lock:
            for conn in self._connections:
                with suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writes --------------------------------------------------------------------------
    def put_labels(
        self, key: Key, items: Iterable[tuple[str, float] | tuple[str, float, str]]
    ) -> int:
        """Insert ``(caption, label[, raw])`` items under ``key`` in one transaction.

        Existing keys are kept (the first label wins). Returns the number of new rows.
        """
        now = time.time()
        rows = [(*key, it[0], float(it[1]), it[2] if len(it) > 2 else "", now) for it in items]
        if not rows:
            return 0
        with self._transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO labels (annotator, model, prompt_hash, caption, label, raw,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return conn.total_changes - before

    def put_preferences(
        self, key: Key, items: Iterable[tuple[str, str, float] | tuple[str, str, float, str]]
    ) -> int:
        """Insert ``(caption_1, caption_2, preference[, raw])`` items; returns new rows."""
        now = time.time()
        rows = [
            (*key, it[0], it[1], float(it[2]), it[3] if len(it) > 3 else "", now) for it in items
        ]
        if not rows:
            return 0
        with self._transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO preferences (annotator, model, prompt_hash, caption_1,"
                " caption_2, preference, raw, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return conn.total_changes - before

    def put_prompt(self, prompt_hash: str, text: str) -> None:
        """Record the full text behind a prompt hash (kept once)."""
        with self._transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO prompts VALUES (?, ?)", (prompt_hash, text))

    def import_rows(
        self, rows: Iterable[LabelRow | PreferenceRow], prompts: dict[str, str] | None = None
    ) -> tuple[int, int]:
        """Insert rows of any namespace (keeping their timestamps); returns (labels, prefs) new."""
        labels, prefs = [], []
        for row in rows:
            if isinstance(row, LabelRow):
                labels.append(
                    (
                        row.annotator,
                        row.model,
                        row.prompt_hash,
                        row.caption,
                        row.label,
                        row.raw,
                        row.created,
                    )
                )
            else:
                prefs.append(
                    (
                        row.annotator,
                        row.model,
                        row.prompt_hash,
                        row.caption_1,
                        row.caption_2,
                        row.preference,
                        row.raw,
                        row.created,
                    )
                )
        with self._transaction() as conn:
            start = conn.total_changes
            conn.executemany("INSERT OR IGNORE INTO labels VALUES (?, ?, ?, ?, ?, ?, ?)", labels)
            mid = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO preferences VALUES (?, ?, ?, ?, ?, ?, ?, ?)", prefs
            )
            end = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO prompts VALUES (?, ?)", list((prompts or {}).items())
            )
        return mid - start, end - mid

    # -- reads ---------------------------------------------------------------------------
    def get_labels(self, key: Key, captions: Sequence[str] | None = None) -> dict[str, float]:
        """Labels under ``key``: all of them, or those of ``captions`` that exist."""

        def read(conn: sqlite3.Connection) -> dict[str, float]:
            sql = (
                "SELECT caption, label FROM labels WHERE annotator=? AND model=? AND prompt_hash=?"
            )
            if captions is None:
                return dict(conn.execute(sql, key).fetchall())
            out: dict[str, float] = {}
            wanted = list(dict.fromkeys(captions))
            for i in range(0, len(wanted), 500):  # stay under SQLite's variable limit
                chunk = wanted[i : i + 500]
                marks = ",".join("?" * len(chunk))
                out.update(
                    conn.execute(f"{sql} AND caption IN ({marks})", (*key, *chunk)).fetchall()
                )
            return out

        return self._retry(read)

    def get_preferences(self, key: Key) -> list[tuple[str, str, float]]:
        """All ``(caption_1, caption_2, preference)`` under ``key``."""
        sql = (
            "SELECT caption_1, caption_2, preference FROM preferences"
            " WHERE annotator=? AND model=? AND prompt_hash=? ORDER BY created, caption_1, caption_2"
        )
        return self._retry(lambda conn: conn.execute(sql, key).fetchall())

    def rows(self, key: Key | None = None) -> list[LabelRow]:
        """Every label row (optionally of one namespace), oldest first."""
        sql, args = "SELECT * FROM labels", ()
        if key is not None:
            sql, args = sql + " WHERE annotator=? AND model=? AND prompt_hash=?", key
        result = self._retry(
            lambda conn: conn.execute(sql + " ORDER BY created, caption", args).fetchall()
        )
        return [LabelRow(*row) for row in result]

    def preference_rows(self, key: Key | None = None) -> list[PreferenceRow]:
        """Every preference row (optionally of one namespace), oldest first."""
        sql, args = "SELECT * FROM preferences", ()
        if key is not None:
            sql, args = sql + " WHERE annotator=? AND model=? AND prompt_hash=?", key
        result = self._retry(lambda conn: conn.execute(sql + " ORDER BY created", args).fetchall())
        return [PreferenceRow(*row) for row in result]

    def prompts(self) -> dict[str, str]:
        """Prompt hash → full template text."""
        return dict(self._retry(lambda conn: conn.execute("SELECT * FROM prompts").fetchall()))

    def summary(self) -> list[dict[str, object]]:
        """Per namespace: number of labels, fraction positive, number of preferences."""
        sql = (
            "SELECT annotator, model, prompt_hash, COUNT(*), AVG(label >= 0.5), MAX(created)"
            " FROM labels GROUP BY annotator, model, prompt_hash"
        )
        psql = (
            "SELECT annotator, model, prompt_hash, COUNT(*) FROM preferences"
            " GROUP BY annotator, model, prompt_hash"
        )
        labels = self._retry(lambda conn: conn.execute(sql).fetchall())
        prefs = {
            tuple(r[:3]): r[3] for r in self._retry(lambda conn: conn.execute(psql).fetchall())
        }
        out = []
        for a, m, h, n, pos, last in labels:
            out.append(
                dict(
                    annotator=a,
                    model=m,
                    prompt_hash=h,
                    labels=n,
                    positive=pos,
                    preferences=prefs.pop((a, m, h), 0),
                    last=last,
                )
            )
        for (a, m, h), n in prefs.items():
            out.append(
                dict(
                    annotator=a,
                    model=m,
                    prompt_hash=h,
                    labels=0,
                    positive=None,
                    preferences=n,
                    last=None,
                )
            )
        return out

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` (``"ok"`` when healthy)."""
        return self._retry(lambda conn: conn.execute("PRAGMA integrity_check").fetchone()[0])
