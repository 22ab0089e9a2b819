"""Frames read ahead in a thread: the same frames in order, bounded, stopped cleanly."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from poseclf.video.prefetch import ReadAhead


def _frames(n: int, seen: list[int] | None = None):
    for i in range(n):
        if seen is not None:
            seen.append(i)
        yield np.full((2, 2), i, dtype=np.uint8)


def test_the_frames_come_out_in_order_and_all():
    with ReadAhead(_frames(50), size=3) as ahead:
        got = [int(f[0, 0]) for f in ahead]
    assert got == list(range(50))


def test_reading_ahead_is_bounded():
    seen: list[int] = []
    with ReadAhead(_frames(1000, seen), size=4) as ahead:
        first = next(iter(ahead))
        time.sleep(0.3)
        assert int(first[0, 0]) == 0
        assert len(seen) <= 1 + 4 + 1  # the one taken, the queue, the one waiting to be queued


def test_leaving_early_stops_the_thread():
    before = threading.active_count()
    with ReadAhead(_frames(10_000), size=2) as ahead:
        for i, _ in enumerate(ahead):
            if i == 3:
                break
    assert threading.active_count() == before


def test_an_error_while_reading_reaches_the_consumer_at_its_frame():
    def broken():
        yield np.zeros((1, 1))
        raise OSError("disk gone")

    with ReadAhead(broken()) as ahead:
        frames = iter(ahead)
        next(frames)
        with pytest.raises(OSError, match="disk gone"):
            next(frames)


def test_it_must_be_entered():
    with pytest.raises(RuntimeError, match="context manager"):
        list(ReadAhead(_frames(2)))
    with pytest.raises(ValueError, match="size"):
        ReadAhead(_frames(2), size=0)


def test_a_conversion_is_done_ahead_and_comes_with_its_frame():
    with ReadAhead(_frames(5), convert=lambda f: f + 100) as ahead:
        pairs = list(ahead)
    assert [(int(a[0, 0]), int(b[0, 0])) for a, b in pairs] == [(i, i + 100) for i in range(5)]
