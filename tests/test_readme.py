"""The README's Python session runs as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_session_runs_as_printed(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- readme-session -->\n```python\n(.*?)```", text, re.S)
    assert match, "the README lost its marked Python session"
    script = tmp_path / "session.py"
    script.write_text(match.group(1), encoding="utf-8")
    root = README.parent
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"\d{4}-0001 closed", lines[0])
    assert "Hazard.Reported" in lines[1] and "陈小峰 (inspector)" in lines[1]
    assert any("Hazard.Closed" in line and "张铭 (supervisor)" in line for line in lines)
    assert any("VerificationFailed" in line for line in lines)
    assert any("陶表印 (responsible_party)" in line for line in lines)
