import io
import sys

from genrec.progress import LOG_FILE_INTERVAL, progress_bar


def test_bar_redraws_once_a_minute_into_a_log_file_and_often_on_a_terminal(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert progress_bar(range(3), file=io.StringIO()).mininterval == LOG_FILE_INTERVAL
    assert progress_bar(range(3), file=io.StringIO(), mininterval=5).mininterval == 5  # the caller's wins

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert progress_bar(range(3), file=io.StringIO()).mininterval < 1
