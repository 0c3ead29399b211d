"""Committing only the completed prefix of a partition's in-flight offsets."""

from __future__ import annotations

from backend.queue.offsets import OffsetTracker


def test_in_order_completion_commits_each_offset() -> None:
    tracker = OffsetTracker()
    for offset in (5, 6, 7):
        tracker.add(offset)
    assert tracker.complete(5) == 6
    assert tracker.complete(6) == 7
    assert tracker.complete(7) == 8
    assert len(tracker) == 0


def test_a_slow_run_holds_back_the_commit_of_later_ones() -> None:
    tracker = OffsetTracker()
    for offset in (10, 11, 12, 13):
        tracker.add(offset)
    assert tracker.complete(12) is None
    assert tracker.complete(11) is None
    assert tracker.complete(10) == 13  # 10, 11 and 12 done: commit past 12
    assert 13 in tracker and 10 not in tracker
    assert tracker.complete(13) == 14


def test_gaps_between_offsets_and_unknown_offsets() -> None:
    tracker = OffsetTracker()
    tracker.add(3)
    tracker.add(9)  # offsets need not be contiguous (compaction, control records)
    assert tracker.complete(9) is None
    assert tracker.complete(42) is None  # never handed out (e.g. from before a rebalance)
    assert tracker.complete(3) == 10
    tracker.add(11)
    assert tracker.complete(11) == 12
    assert tracker.complete(11) is None  # a second ack changes nothing


def test_what_the_consumer_lag_is_counted_from() -> None:
    tracker = OffsetTracker()
    assert (tracker.first_pending(), tracker.next_offset) == (None, None)  # nothing fetched yet
    for offset in (20, 21, 22):
        tracker.add(offset)
    tracker.complete(21)
    assert (tracker.first_pending(), tracker.next_offset) == (20, 23)  # 20 still runs: lag from it
    tracker.complete(20)
    tracker.complete(22)
    assert (tracker.first_pending(), tracker.next_offset) == (None, 23)  # all done: lag from 23
