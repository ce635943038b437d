"""Line-atomic console output: jobs that share one stdout never garble each other's lines.

Four processes print to one pipe at the same moment through :func:`al_bert.console.say`, unbuffered (as
``PYTHONUNBUFFERED``, SLURM and joblib workers print), many times over; every line must arrive whole.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from al_bert.console import say

REPO = Path(__file__).resolve().parents[1]
WRITERS, LINES, ROUNDS = 4, 400, 5
# Each writer prints lines of varied length (a job header, an iteration line, a short status) and, every
# 50th line, a multi-line block (a table) that must also arrive whole.
WRITER = r"""
import sys, time
from al_bert.console import say
writer, lines, start = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
while time.time() < start:
    pass
for i in range(lines):
    say(f"[job {writer}/{lines}] line {i} " + "x" * (i % 97) + " end")
    if i % 50 == 0:
        say("\n".join(f"  table {writer} row {r} " + "y" * r + " end" for r in range(8)))
"""
LINE = re.compile(r"^\[job (\d)/\d+\] line (\d+) x* end$|^  table (\d) row (\d) y* end$")


def test_four_writers_printing_at_once_never_split_a_line() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
    for _ in range(ROUNDS):
        read_end, write_end = os.pipe()
        start = time.time() + 1.5  # every writer starts its loop at the same instant
        writers = [
            subprocess.Popen(
                [sys.executable, "-u", "-c", WRITER, str(k), str(LINES), repr(start)],
                stdout=write_end,
                env=env,
            )
            for k in range(WRITERS)
        ]
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            output = pipe.read().decode()
        assert all(w.wait(timeout=60) == 0 for w in writers)
        lines = output.splitlines()
        garbled = [line for line in lines if not LINE.match(line)]
        assert garbled == [], f"{len(garbled)} garbled lines, e.g. {garbled[:3]}"
        per_writer = [
            sum(1 for line in lines if line.startswith(f"[job {k}/")) for k in range(WRITERS)
        ]
        assert per_writer == [LINES] * WRITERS
        # Each table's eight rows arrive together, in order, never with another writer's line between.
        for k in range(WRITERS):
            firsts = [i for i, line in enumerate(lines) if line.startswith(f"  table {k} row 0 ")]
            assert len(firsts) == LINES // 50
            for first in firsts:
                assert lines[first : first + 8] == [
                    f"  table {k} row {r} " + "y" * r + " end" for r in range(8)
                ]


def test_say_writes_to_streams_without_a_file_descriptor() -> None:
    stream = io.StringIO()
    say("one", stream)
    say("two\nthree\n", stream)
    assert stream.getvalue() == "one\ntwo\nthree\n"


def test_say_keeps_what_python_buffered_before_it_in_order(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("buffered first\n")  # still in Python's buffer when say() writes to the fd
        say("then say", stream)
        stream.write("last\n")
    assert path.read_text().splitlines() == ["buffered first", "then say", "last"]
