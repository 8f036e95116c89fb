"""A bare `pytest` on a machine without Chromium skips the browser tests and says why;
./scripts/test (ATTN_REQUIRE_BROWSER=1) fails instead, so CI can never pass by skipping them."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
BROWSER_TEST = "tests/browser/test_host_theme_in_chromium.py::test_jupyterlab_variables_win_over_vscodes"


def run_without_chromium(require: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ATTN_REQUIRE_BROWSER"}
    env["ATTN_WIDGET_CHROMIUM"] = "/nonexistent/chromium"
    if require:
        env["ATTN_REQUIRE_BROWSER"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", BROWSER_TEST],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_bare_pytest_skips_browser_tests_with_the_reason():
    out = run_without_chromium(require=False)
    assert out.returncode == 0, out.stdout[-2000:]
    assert "1 skipped" in out.stdout and "Chromium not found at /nonexistent/chromium" in out.stdout


def test_the_test_script_fails_when_chromium_is_missing():
    out = run_without_chromium(require=True)
    assert out.returncode != 0 and "Chromium not found at /nonexistent/chromium" in out.stdout, out.stdout[-2000:]
