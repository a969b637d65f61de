"""The digest's chart: cases a day (bars) and the median first reply (line), as a PNG."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display: draw to memory only

from matplotlib.figure import Figure  # noqa: E402 (after choosing the backend)

from escalation.digests import DayPoint  # noqa: E402


def chart_png(points: Sequence[DayPoint]) -> bytes:
    """Volume and first-reply time per day; a day with no replies leaves a gap in the line."""
    figure = Figure(figsize=(8, 3.6), dpi=100)
    volume = figure.add_subplot()
    labels = [f"{p.day:%a %d}" for p in points]
    volume.bar(labels, [p.cases for p in points], color="#457b9d", label="cases opened")
    volume.set_ylabel("cases opened")
    reply = volume.twinx()
    minutes = [_minutes(p.first_reply_median) for p in points]
    reply.plot(labels, minutes, "o-", color="#e63946", label="median first reply")
    reply.set_ylabel("median first reply (min)")
    reply.set_ylim(bottom=0)
    volume.set_title("Cases opened and median first public reply, last 7 days")
    figure.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def _minutes(seconds: float | None) -> float:
    return seconds / 60 if seconds is not None else float("nan")  # nan: a gap in the line
