"""
The lab for domain-check tests: the test world served in a network namespace of its
own (``unshare -n -m``), and a way to run ``smtpbot check`` inside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from tests.mxcheck.world import World, build_world

REPO = Path(__file__).resolve().parents[2]
# Loopback only, and every test address is loopback: the probe policy lets these in.
LAB_CIDRS = "127.0.0.0/8"


@dataclass
class Run:
    """
    One ``smtpbot check`` in the lab: exit code, output, and what the servers saw.
    """

    code: int
    stdout: str
    stderr: str
    connections: dict[str, int] = field(default_factory=dict)
    requests: dict[str, list[str]] = field(default_factory=dict)
    questions: list[str] = field(default_factory=list)

    @property
    def json(self) -> dict[str, Any]:
        """
        The JSON report on stdout.
        """
        data: dict[str, Any] = json.loads(self.stdout)
        return data


class Lab:
    """
    The lab process and its world.
    """

    def __init__(self, world: World, process: subprocess.Popen[str]) -> None:
        self.world = world
        self.process = process

    def check(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        subprocess: bool = False,
        nofile: int | None = None,
    ) -> Run:
        """
        Run ``smtpbot check ARGS`` in the namespace (PROBE_ALLOW_CIDRS=127.0.0.0/8
        unless ``env`` says otherwise); with ``nofile``, as a child process allowed
        that many open files.
        """
        request = {
            "args": list(args),
            "env": {"PROBE_ALLOW_CIDRS": LAB_CIDRS, **(env or {})},
            "subprocess": subprocess or nofile is not None,
            "nofile": nofile,
        }
        stdin, stdout = self._pipes()
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the lab died (exit {self.process.poll()})")
        return Run(**json.loads(line))

    def slack(self, text: str, **env: str) -> dict[str, Any]:
        """
        ``/smtpcheck TEXT`` through the real Bolt app in the namespace: the ack and
        the report posted to response_url (text and blocks).
        """
        request = {
            "slack": text,
            "env": {
                "PROBE_ALLOW_CIDRS": LAB_CIDRS,
                "PROBE_CAFILE": self.world.cafile,
                **env,
            },
        }
        stdin, stdout = self._pipes()
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the lab died (exit {self.process.poll()})")
        run = Run(**json.loads(line))
        assert run.code == 200, run
        data: dict[str, Any] = run.json
        data["connections"] = run.connections
        return data

    def mx(self, domain: str, *extra: str, **kwargs: Any) -> Run:
        """
        ``smtpbot check DOMAIN --mx --json --cafile <the lab's public CA>``.
        """
        return self.check(
            domain, "--mx", "--json", "--cafile", self.world.cafile, *extra, **kwargs
        )

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        """
        The lab's request and answer streams.
        """
        assert self.process.stdin is not None and self.process.stdout is not None
        return self.process.stdin, self.process.stdout


def namespace_command() -> list[str]:
    """
    ``unshare`` for a private network and mount namespace: as root, else in a user
    namespace where we are root.
    """
    unshare = shutil.which("unshare")
    if unshare is None:
        raise RuntimeError("unshare (util-linux) is needed for the domain-check lab")
    for command in ([unshare, "-n", "-m"], [unshare, "-r", "-n", "-m"]):
        if subprocess.run([*command, "true"], capture_output=True).returncode == 0:
            return command
    raise RuntimeError(
        "unshare cannot create a network namespace here: run as root, or enable "
        "unprivileged user namespaces"
    )


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """
    The test world, served in its own network namespace for the whole session.
    """
    root = tmp_path_factory.mktemp("mxlab")
    world = build_world(root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROBE_")}
    env["XDG_CACHE_HOME"] = str(root / "cache")
    command = [*namespace_command(), sys.executable, "-m", "tests.mxcheck.lab"]
    with (root / "lab.log").open("w") as log:
        process = subprocess.Popen(
            [*command, str(world.spec_path())],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    assert process.stdin is not None and process.stdout is not None
    try:
        if not process.stdout.readline():
            process.wait(10)
            tail = (root / "lab.log").read_text()[-2000:]
            raise RuntimeError(
                f"the lab did not start (exit {process.returncode}):\n{tail}"
            )
        yield Lab(world, process)
    finally:
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
