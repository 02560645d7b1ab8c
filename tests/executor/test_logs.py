"""Step logs: masked, batched, live, digested, and expirable only by the owner."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from app.database import Database
from app.executor.actions.masking import MASK, Masker
from app.executor.logs import CUT_MARKER, MAX_LINE_BYTES, StepLogWriter, expire_logs
from app.queries.logs import LogLine, follow_log, log_digest, read_log
from app.steplogs import LogDigest


def expected_digest(lines: list[str]) -> LogDigest:
    text = "".join(line + "\n" for line in lines)
    return LogDigest(hashlib.sha256(text.encode("utf-8")).hexdigest(), len(lines))


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# --- masking --------------------------------------------------------------------------------


def test_masking_hides_every_occurrence_on_a_line() -> None:
    masker = Masker(["s3cret", "tok"])
    assert masker.mask("s3cret and s3cret, tok!") == f"{MASK} and {MASK}, {MASK}!"
    assert masker.mask("nothing here") == "nothing here"


def test_masking_hides_each_line_of_a_multi_line_secret() -> None:
    key = "-----BEGIN KEY-----\r\nAAAA1111\nBBBB2222\n\n-----END KEY-----\n"
    masker = Masker([key])
    assert masker.mask("AAAA1111") == MASK
    assert masker.mask("  BBBB2222  ") == f"  {MASK}  "
    assert masker.mask("-----END KEY-----") == MASK
    assert masker.mask("") == ""  # blank lines of the secret are not masked everywhere
    assert masker.mask("-----BEGIN KEY-----") == MASK  # its "\r" is not part of the line
    assert masker.mask(f"key: {key}") == f"key: {MASK}"  # and the whole value, where it fits


def test_overlapping_secrets_are_masked_whole_longest_first() -> None:
    masker = Masker(["hunter", "hunter2"])
    assert masker.mask("pw=hunter2!") == f"pw={MASK}!"  # not "********2"
    crossing = Masker(["abcdef", "defghi"])
    assert crossing.mask("xabcdefghiy") == f"x{MASK}y"  # no tail of either is left
    assert crossing.mask("abcdefabcdef") == MASK


def test_empty_and_blank_secret_values_are_ignored() -> None:
    masker = Masker(["", "   ", "\n"])
    assert masker.mask("  indented  text ") == "  indented  text "


def test_masker_repr_shows_no_value() -> None:
    assert "hunter2" not in repr(Masker(["hunter2"]))


# --- writing and digests ----------------------------------------------------------------------


def test_lines_written_by_two_threads_all_arrive_with_contiguous_numbers(
    database: Database,
) -> None:
    run_id = uuid.uuid4()
    writer = StepLogWriter(database.app_url, run_id, "build", Masker([]), batch_lines=37)
    barrier = threading.Barrier(2)

    def produce(name: str) -> None:
        barrier.wait()
        for n in range(400):
            writer.write(f"{name} {n}")

    threads = [threading.Thread(target=produce, args=(name,)) for name in ("out", "err")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    digest = writer.close()

    lines = read_log(database.app_url, run_id, "build")
    assert [line.line_no for line in lines] == list(range(1, 801))
    assert digest.lines == 800
    for name in ("out", "err"):
        mine = [line.text for line in lines if line.text.startswith(name)]
        assert mine == [f"{name} {n}" for n in range(400)]  # each thread's lines in its order
    assert digest == expected_digest([line.text for line in lines])


def test_close_digest_equals_recomputed_digest_and_hashlib_over_the_stored_text(
    database: Database,
) -> None:
    run_id = uuid.uuid4()
    with StepLogWriter(database.app_url, run_id, "test", Masker(["hunter2"])) as writer:
        writer.write("plain line")
        writer.write("two\nlines\n")  # split at "\n"; the trailing newline ends the last line
        writer.write("windows line\r\n")
        writer.write(b"bytes: caf\xc3\xa9 and \xff")
        writer.write("password=hunter2; NUL\x00 here")
        writer.write("")
    digest = writer.close()  # closing twice gives the same digest

    stored = [
        "plain line",
        "two",
        "lines",
        "windows line",
        "bytes: café and \ufffd",
        f"password={MASK}; NUL\ufffd here",
        "",
    ]
    assert [line.text for line in read_log(database.app_url, run_id, "test")] == stored
    assert digest == expected_digest(stored)
    assert log_digest(database.app_url, run_id, "test") == digest
    assert log_digest(database.app_url, run_id, "test", page=2) == digest


def test_an_empty_log_has_the_digest_of_no_bytes(database: Database) -> None:
    run_id = uuid.uuid4()
    digest = StepLogWriter(database.app_url, run_id, "quiet").close()
    assert digest == LogDigest(hashlib.sha256(b"").hexdigest(), 0)
    assert log_digest(database.app_url, run_id, "quiet") == digest


def test_a_very_long_line_is_cut_with_a_marker_and_the_digest_covers_what_is_stored(
    database: Database,
) -> None:
    run_id = uuid.uuid4()
    long_line = "é" * MAX_LINE_BYTES  # two bytes each: twice the limit
    with StepLogWriter(database.app_url, run_id, "noisy") as writer:
        writer.write(long_line)
    [stored] = read_log(database.app_url, run_id, "noisy")
    marker = CUT_MARKER.format(size=2 * MAX_LINE_BYTES)
    assert stored.text == "é" * (MAX_LINE_BYTES // 2) + marker
    assert writer.close() == expected_digest([stored.text])
    assert log_digest(database.app_url, run_id, "noisy") == writer.close()


def test_a_writer_can_use_a_connection_pool(database: Database) -> None:
    run_id = str(uuid.uuid4())  # run ids may be given as text, too
    with ConnectionPool(database.app_url, min_size=1, max_size=2, open=True) as pool:
        writer = StepLogWriter(pool, run_id, "build", batch_lines=2)
        for n in range(5):
            writer.write(f"line {n}")
        digest = writer.close()
        assert [line.text for line in read_log(pool, run_id, "build")] == [
            f"line {n}" for n in range(5)
        ]
    assert digest == log_digest(database.app_url, run_id, "build")


def test_writing_after_close_is_refused(database: Database) -> None:
    writer = StepLogWriter(database.app_url, uuid.uuid4(), "build")
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write("late")


def test_lines_that_cannot_be_stored_stay_buffered_and_close_can_be_retried(
    database: Database,
) -> None:
    run_id = uuid.uuid4()
    writer = StepLogWriter(database.app_url, run_id, "build", flush_seconds=60)
    writer.write("kept")
    with psycopg.connect(database.owner_url, autocommit=True) as owner:
        owner.execute("REVOKE INSERT ON step_logs FROM shiplog_app")
        try:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                writer.close()
        finally:
            owner.execute("GRANT INSERT ON step_logs TO shiplog_app")
    assert writer.close() == expected_digest(["kept"])
    assert [line.text for line in read_log(database.app_url, run_id, "build")] == ["kept"]


# --- reading live ---------------------------------------------------------------------------


def test_a_reader_sees_lines_before_the_writer_is_closed(database: Database) -> None:
    run_id = uuid.uuid4()
    writer = StepLogWriter(database.app_url, run_id, "build", batch_lines=1000)
    try:
        writer.write("compiling\nlinking")
        assert wait_for(lambda: len(read_log(database.app_url, run_id, "build")) == 2)
        writer.write("done")
        assert wait_for(lambda: len(read_log(database.app_url, run_id, "build")) == 3)
        after = read_log(database.app_url, run_id, "build", after_line=1, limit=1)
        assert [(line.line_no, line.text) for line in after] == [(2, "linking")]
    finally:
        writer.close()


def test_follow_log_yields_lines_live_until_stopped(database: Database) -> None:
    run_id = uuid.uuid4()
    stop = threading.Event()
    seen: list[LogLine] = []

    def follow() -> None:
        seen.extend(follow_log(database.app_url, run_id, "build", stop=stop, poll_seconds=0.1))

    writer = StepLogWriter(database.app_url, run_id, "build", batch_lines=1000)
    writer.write("already there")
    reader = threading.Thread(target=follow)
    reader.start()
    try:
        assert wait_for(lambda: len(seen) == 1)
        writer.write("one\ntwo")
        assert wait_for(lambda: len(seen) == 3)  # while the writer is still open
    finally:
        writer.close()
        stop.set()
        reader.join(timeout=5)
    assert not reader.is_alive()
    assert [(line.line_no, line.text) for line in seen] == [
        (1, "already there"),
        (2, "one"),
        (3, "two"),
    ]


# --- who may change logs ----------------------------------------------------------------------


def write_log(database: Database, run_id: uuid.UUID, step: str = "build") -> None:
    with StepLogWriter(database.app_url, run_id, step) as writer:
        writer.write("a line")


@pytest.mark.parametrize(
    "statement",
    ["UPDATE step_logs SET line = 'forged'", "DELETE FROM step_logs", "TRUNCATE step_logs"],
)
def test_the_application_role_cannot_update_or_delete_step_logs(
    database: Database, statement: str
) -> None:
    write_log(database, uuid.uuid4())
    with (
        psycopg.connect(database.app_url) as conn,
        pytest.raises(
            psycopg.errors.InsufficientPrivilege, match="permission denied for table step_logs"
        ),
    ):
        conn.execute(statement)


def test_even_the_owner_cannot_update_a_line(database: Database) -> None:
    write_log(database, uuid.uuid4())
    with (
        psycopg.connect(database.owner_url) as conn,
        pytest.raises(
            psycopg.errors.InsufficientPrivilege, match='on table "step_logs" is not allowed'
        ),
    ):
        conn.execute("UPDATE step_logs SET line = 'forged'")


def test_the_owner_can_delete_logs_to_expire_them_whole(database: Database) -> None:
    old, recent, mixed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for run_id in (old, recent):
        write_log(database, run_id)
    with StepLogWriter(database.app_url, mixed, "build") as writer:
        writer.write("started long ago\nstill going")
    with psycopg.connect(database.owner_url) as conn:  # age some lines, as time would
        conn.execute("ALTER TABLE step_logs DISABLE TRIGGER step_logs_reject_update")
        conn.execute(
            "UPDATE step_logs SET logged_at = now() - interval '40 days' "
            "WHERE run_id = %s OR (run_id = %s AND line_no = 1)",
            (old, mixed),
        )
        conn.execute("ALTER TABLE step_logs ENABLE ALWAYS TRIGGER step_logs_reject_update")

    cutoff = datetime.now(UTC) - timedelta(days=30)
    expired = expire_logs(database.owner_url, older_than=cutoff, actor="ops")
    assert (expired.logs, expired.lines) == (1, 1)
    assert read_log(database.app_url, old, "build") == []
    assert len(read_log(database.app_url, mixed, "build")) == 2  # never a part of a log
    assert len(read_log(database.app_url, recent, "build")) == 1

    with psycopg.connect(database.owner_url) as conn:
        conn.execute("DELETE FROM step_logs WHERE run_id = %s", (recent,))
    assert read_log(database.app_url, recent, "build") == []
