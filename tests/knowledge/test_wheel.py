"""
The built wheel carries the knowledge base and finds it from any working directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_installed_wheel_finds_the_knowledge_base_from_anywhere(tmp_path: Path) -> None:
    """A wheel unpacked elsewhere loads its own entries from another directory."""
    dist = tmp_path / "dist"
    # The project's own locked installer builds the wheel (the venv holds no pip).
    uv = Path(sys.executable).with_name("uv")
    built = subprocess.run(
        [str(uv), "build", "--wheel", "--quiet", "--out-dir", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("smtpbot-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(site)
    assert any(
        n.startswith("knowledge/entries/") and n.endswith(".yaml") for n in names
    )
    assert "knowledge/guidance/outlook-smtp-tls-troubleshooting.txt" in names
    for learned in ("not-mail.tsv.gz", "categories.bin.gz", "rerank.json"):
        assert f"knowledge/learned/{learned}" in names
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(site)!r})
        import knowledge
        from knowledge.cache import load_matcher
        matcher = load_matcher()
        diagnosis = matcher.diagnose("530 5.7.0 Must issue a STARTTLS command first")
        print(json.dumps({{"root": str(knowledge.KNOWLEDGE_ROOT),
                          "entries": len(matcher.kb.entries),
                          "category": diagnosis.category}}))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env={"SMTPBOT_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["root"].startswith(str(site))
    assert report["entries"] >= 60
    assert report["category"] == "starttls-required"
