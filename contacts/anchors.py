"""Head anchors: the consent ledger's newest sealed position and hash, kept outside the database.

Whoever can write the database can delete the newest events, truncate the ledger, or (holding the
key) add events at the head, and the chain alone can't tell. An anchor written after each seal to a
place the database's users can't reach can: `verify_ledger` checks that every anchored position is
still in the chain with the same hash and that the chain's head is anchored, and the sealer refuses
to build on a head the anchors contradict.

A sink is a small backend, like Django's e-mail backends: LEDGER_ANCHOR_SINK names its class by
dotted path. The default appends one JSON line per anchor to LEDGER_ANCHOR_FILE. In production make
that file append-only for everyone but the sealing worker (`chattr +a`), copy it off the machine with
the logs, or name a sink that writes to storage the database's users can't rewrite.
"""

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string


class AnchorSinkError(Exception):
    """The sink can't be written or read, or holds a line that isn't an anchor."""


@dataclass(frozen=True)
class Anchor:
    position: int  # the chain's head when the seal ended (0: the chain was empty)
    hash: str  # the hash of the event at that position
    at: datetime  # when the anchor was written

    def as_json(self) -> str:
        return json.dumps({"position": self.position, "hash": self.hash, "at": self.at.isoformat()})

    @classmethod
    def from_json(cls, text: str) -> "Anchor":
        data = json.loads(text)
        position, hash_, at = data["position"], data["hash"], datetime.fromisoformat(data["at"])
        if type(position) is not int or position < 0 or not isinstance(hash_, str) or len(hash_) != 64:
            raise ValueError("not a position and a 64-character hash")
        return cls(position, hash_, at)


class AnchorSink:
    """Where the sealer writes each new head of the chain. Subclasses implement `append` and `read`."""

    def append(self, anchor: Anchor) -> None:
        """Store `anchor` durably before returning; raise AnchorSinkError when that fails."""
        raise NotImplementedError

    def read(self) -> Iterator[Anchor]:
        """Every anchor, in the order they were appended; raise AnchorSinkError for an unreadable one."""
        raise NotImplementedError

    def newest(self) -> Anchor | None:
        """The anchor appended last. The sealer asks on every run: override when `read` is slow."""
        last = None
        for last in self.read():  # noqa: B007 — only the last one is wanted
            pass
        return last

    def __str__(self) -> str:
        return type(self).__name__


class FileAnchorSink(AnchorSink):
    """JSON lines appended to a file (LEDGER_ANCHOR_FILE), each synced to disk before the seal goes on.

    Only the worker that seals writes here, one seal at a time. A line torn by a crash mid-write is
    left behind, so the next anchor starts a line of its own; an unterminated last line (that torn
    write, nothing else can leave one) is not an anchor and is skipped.
    """

    _TAIL_BLOCK = 4096

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path or settings.LEDGER_ANCHOR_FILE)

    def __str__(self) -> str:
        return f"the anchor file {self.path}"

    def append(self, anchor: Anchor) -> None:
        line = (anchor.as_json() + "\n").encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as error:
            raise AnchorSinkError(f"can't append to {self.path}: {error}") from error

    def read(self) -> Iterator[Anchor]:
        try:
            file = open(self.path, "rb")  # noqa: SIM115 — closed below, after the generator is exhausted
        except FileNotFoundError:
            return
        except OSError as error:
            raise AnchorSinkError(f"can't read {self.path}: {error}") from error
        with file:
            for number, raw in enumerate(file, start=1):
                if not raw.strip() or not raw.endswith(b"\n"):
                    continue  # a blank line, or the torn last write
                yield self._parse(raw, number)

    def newest(self) -> Anchor | None:
        try:
            with open(self.path, "rb") as file:
                end = file.seek(0, os.SEEK_END)
                block = self._TAIL_BLOCK
                while True:
                    start = max(0, end - block)
                    file.seek(start)
                    tail = file.read(end - start)
                    complete = tail[: tail.rfind(b"\n") + 1]  # drop a torn last write
                    lines = [line for line in complete.split(b"\n") if line.strip()]
                    # The first line of a block that starts mid-file may be cut: trust it only from the file's start.
                    if len(lines) > 1 or (lines and start == 0):
                        return self._parse(lines[-1], None)
                    if start == 0:
                        return None
                    block *= 2
        except FileNotFoundError:
            return None
        except OSError as error:
            raise AnchorSinkError(f"can't read {self.path}: {error}") from error

    def _parse(self, raw: bytes, number: int | None) -> Anchor:
        try:
            return Anchor.from_json(raw.decode())
        except (ValueError, KeyError, TypeError) as error:
            where = f"line {number}" if number else "the last line"
            raise AnchorSinkError(f"{where} of {self.path} is not an anchor ({error})") from error


def anchor_sink() -> AnchorSink:
    """The sink LEDGER_ANCHOR_SINK names, built for this call (its settings may change in tests)."""
    return import_string(settings.LEDGER_ANCHOR_SINK)()
