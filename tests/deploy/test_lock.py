"""
The committed lock: it matches pyproject.toml, bootstraps its own installer, and an
install stops with a clear message when the two disagree.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")


def _load_uvpin():  # type: ignore[no-untyped-def]
    """deploy/uvpin.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("uvpin", ROOT / "deploy" / "uvpin.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


uv_requirement = _load_uvpin().uv_requirement


def _uv_env() -> dict[str, str]:
    """The environment for uv runs: offline, so a test never leaves the machine."""
    return {**os.environ, "UV_OFFLINE": "1", "UV_PYTHON_DOWNLOADS": "never"}


def test_lock_matches_pyproject() -> None:
    """uv.lock is current for pyproject.toml (what every install is checked against)."""
    run = subprocess.run(
        [str(UV), "lock", "--check", "--project", str(ROOT)],
        capture_output=True,
        text=True,
        env=_uv_env(),
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr


def test_lock_covers_runtime_and_dev_dependencies() -> None:
    """Every dependency and dev extra named in pyproject.toml has a locked version."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    lock = tomllib.loads((ROOT / "uv.lock").read_text("utf-8"))
    locked = {p["name"]: p for p in lock["package"]}
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    for requirement in wanted:
        name = requirement.split(">")[0].split("<")[0].split("=")[0].split("[")[0]
        package = locked[name.strip().lower().replace("_", "-")]
        assert package["version"], name
        assert all(w["hash"].startswith("sha256:") for w in package.get("wheels", []))
    assert lock["requires-python"] == project["requires-python"]


def test_uv_pin_is_the_locked_release_with_hashes() -> None:
    """The bootstrap pin names the locked uv version and only hashes from the lock."""
    text = (ROOT / "uv.lock").read_text("utf-8")
    line = uv_requirement(text)
    (uv,) = (p for p in tomllib.loads(text)["package"] if p["name"] == "uv")
    assert line.startswith(f"uv=={uv['version']} --hash=sha256:")
    hashes = {part.removeprefix("--hash=") for part in line.split()[1:]}
    assert hashes == {w["hash"] for w in uv["wheels"]} | {uv["sdist"]["hash"]}


def test_uv_pin_refuses_a_lock_without_uv() -> None:
    """A lock that does not lock uv stops the bootstrap with advice to relock."""
    with pytest.raises(SystemExit, match="make lock"):
        uv_requirement('version = 1\n[[package]]\nname = "rapidfuzz"\nversion = "3"\n')


def test_make_install_stops_when_pyproject_and_lock_disagree(tmp_path: Path) -> None:
    """An edited dependency range without a relock fails install with how to relock."""
    make = shutil.which("make")
    assert make, "make is needed to run the README's commands"
    for name in ("Makefile", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "deploy").mkdir()
    shutil.copy(ROOT / "deploy" / "uvpin.py", tmp_path / "deploy" / "uvpin.py")
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    edited = pyproject.replace('"rapidfuzz>=3.9,<4"', '"rapidfuzz>=3.10,<4"')
    assert edited != pyproject
    (tmp_path / "pyproject.toml").write_text(edited, "utf-8")
    # A venv whose installer is already bootstrapped (the real one, by symlink).
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "uv").symlink_to(UV)
    (bin_dir / "python").symlink_to(sys.executable)
    run = subprocess.run(
        [make, "install", f"VENV={tmp_path / 'venv'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_uv_env(),
        timeout=120,
        check=False,
    )
    assert run.returncode != 0
    assert "uv.lock does not match pyproject.toml" in run.stderr
    assert "make lock" in run.stderr
    assert not (tmp_path / "venv" / ".synced").exists()
    assert not (tmp_path / "venv" / "lib").exists()  # nothing was installed
