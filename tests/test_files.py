"""files.current_umask reads the process umask without changing it (no race with threads)."""

from __future__ import annotations

import os

import pytest

from poseclf import files
from poseclf.files import current_umask, replace_atomically

MASK = 0o027  # unlike the usual 022, so a wrong answer shows


@pytest.fixture
def umask():
    """Set MASK for the test; put the previous umask back afterwards."""
    previous = os.umask(MASK)
    try:
        yield MASK
    finally:
        os.umask(previous)


@pytest.mark.skipif(not files.PROC_STATUS.exists(), reason="no /proc/self/status (not Linux)")
def test_current_umask_reads_proc_without_setting_the_umask(umask, monkeypatch):
    def no_umask(mask):
        raise AssertionError(f"os.umask({mask:o}) called: the umask was changed")

    monkeypatch.setattr(os, "umask", no_umask)
    assert current_umask() == umask


def test_current_umask_without_proc_falls_back_and_restores_the_umask(umask, monkeypatch,
                                                                       tmp_path):
    monkeypatch.setattr(files, "PROC_STATUS", tmp_path / "no-proc" / "status")
    assert current_umask() == umask
    assert current_umask() == umask  # put back, not left at 0


def test_replaced_files_get_the_umask_permissions(umask, tmp_path):
    path = replace_atomically(tmp_path / "out.txt", lambda tmp: tmp.write_text("x"))
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # 0640, not mkstemp's 0600
