"""
The ``smtpbot`` command line: diagnose pasted errors, probe mail servers, run the bot.

Built on click, and each command imports only what it needs, so that one-shot commands
(``smtpbot check``, ``smtpbot diagnose``) start fast.
"""

from __future__ import annotations

import os
import shutil
import sys

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="smtpbot", prog_name="smtpbot")
def app() -> None:
    """
    Support bot for people who cannot send email.

    Diagnose pasted SMTP/TLS errors, probe mail servers for STARTTLS problems, and run
    the Slack bot or its terminal console.

    \b
    Examples:
      smtpbot diagnose "530 5.7.0 Must issue a STARTTLS command first"
      smtpbot check smtp.example.com
      smtpbot console
    """


@app.command()
@click.argument("text", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--jsonl",
    is_flag=True,
    help='Read JSON Lines ({"text": ...}) on stdin, write one JSON result per line.',
)
def diagnose(text: str | None, as_json: bool, jsonl: bool) -> None:
    """
    Recognise a pasted mail error and say what it means and how to fix it.

    TEXT is the pasted error; omit it or give '-' to read stdin.
    """
    from bot.commands import diagnose_command

    sys.exit(diagnose_command(text, as_json=as_json, jsonl=jsonl))


@app.group(context_settings=CONTEXT)
def kb() -> None:
    """Inspect and validate the knowledge base."""


@kb.command("lint")
def kb_lint() -> None:
    """
    Validate every knowledge file (errors with file and line) and report
    shadowed entries.
    """
    from bot.commands import lint_command

    sys.exit(lint_command())


@kb.command("stats")
def kb_stats() -> None:
    """Entries and signatures per category, and the code tables' sizes."""
    from bot.commands import stats_command

    sys.exit(stats_command())


@kb.command("show")
@click.argument("entry_id", metavar="ID")
def kb_show(entry_id: str) -> None:
    """Print one entry."""
    from bot.commands import show_command

    sys.exit(show_command(entry_id))


def _setup_logging() -> None:
    """
    LOG_LEVEL / LOG_FORMAT for a long-running command; a bad value exits with its code.
    """
    from bot.errors import ConfigError
    from bot.logs import setup_logging

    try:
        setup_logging(os.environ)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


@app.command()
@click.option(
    "--http",
    is_flag=True,
    help="Serve Slack's HTTP requests on /slack/events (plus /healthz, /readyz, "
    "/metrics) instead of Socket Mode.",
)
@click.option(
    "--host",
    default="0.0.0.0",
    show_default=True,
    help="Address to listen on in HTTP mode.",
)
@click.option(
    "--port",
    type=int,
    default=None,
    help="Port for HTTP mode (default 3000); in Socket Mode, serve the health "
    "endpoints on it.",
)
@click.option(
    "--workers",
    type=click.IntRange(0, 64),
    default=0,
    show_default=True,
    help="HTTP mode: answer queued messages in N `smtpbot work` processes (0: in "
    "this process). The front only verifies, queues and acks.",
)
def run(http: bool, host: str, port: int | None, workers: int) -> None:
    """
    Run the Slack bot: Socket Mode with SLACK_APP_TOKEN, or HTTP mode with --http.

    With SLACK_CLIENT_ID and SLACK_CLIENT_SECRET instead of SLACK_BOT_TOKEN, --http
    serves every workspace that installs the app from /slack/install.

    With no Slack tokens configured it says so and, at a terminal, starts the console.
    """
    from bot.slack.supervisor import share_metrics

    if workers and not http:
        raise click.UsageError(
            "--workers needs --http (Socket Mode answers in its own process)"
        )
    # Before prometheus_client is imported: /metrics adds up the workers' counters.
    shared = share_metrics(os.environ) if http and workers else None
    from bot.slack.entrypoints import run_command

    _setup_logging()
    try:
        code = run_command(
            os.environ,
            http=http,
            host=host,
            port=port,
            stdin=sys.stdin,
            out=sys.stderr,
            workers=workers,
        )
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)
    sys.exit(code)


@app.command()
@click.option(
    "--priority",
    type=click.Choice(["normal", "low", "idle"]),
    default="normal",
    show_default=True,
    help="CPU priority: low is nice 19, idle only uses CPU nothing else wants (what "
    "`run --workers` gives its workers, so that acks always come first).",
)
@click.option("--parent-pid", type=int, default=None, hidden=True)
@click.option(
    "--replaces",
    type=int,
    default=None,
    metavar="PID",
    help="Take over at once the unfinished messages of the dead worker PID on this "
    "host (what `run --workers` does when it restarts one).",
)
def work(priority: str, parent_pid: int | None, replaces: int | None) -> None:
    """
    Answer the support messages HTTP-mode fronts have queued in Redis.

    Run any number, on any hosts sharing REDIS_URL (e.g. a separate deployment); `run
    --http --workers N` starts N itself.
    """
    from bot.slack.entrypoints import work_command

    _setup_logging()
    sys.exit(
        work_command(
            os.environ,
            priority=priority,
            out=sys.stderr,
            parent=parent_pid,
            replaces=replaces,
        )
    )


@app.command()
def console() -> None:
    """
    Talk to the bot in the terminal: paste an error, get the answer, run the
    check.
    """
    from bot.console import console_command

    sys.exit(console_command(os.environ, stdin=sys.stdin, stdout=sys.stdout))


@app.command()
def report() -> None:
    """
    Print the escalation desk: open escalations with age and assignee, knowledge-base
    gaps, this week's top categories, and how each entry fares. Needs REDIS_URL.
    """
    from bot.escalation.overview import report_command

    sys.exit(report_command(os.environ, out=sys.stdout, err=sys.stderr))


@app.group(context_settings=CONTEXT)
def installs() -> None:
    """
    The workspaces that installed the app with "Add to Slack", and the keys that
    seal their tokens in Redis (serving many workspaces).
    """


@installs.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of objects.")
def installs_list(as_json: bool) -> None:
    """
    Every installed workspace and org: ids, names, installer, date, scopes; never a
    token. Needs REDIS_URL.
    """
    from bot.slack.oauth.commands import list_command

    sys.exit(list_command(os.environ, as_json=as_json, out=sys.stdout, err=sys.stderr))


@installs.command("new-key")
def installs_new_key() -> None:
    """
    Print a fresh key for SLACK_TOKEN_ENCRYPTION_KEYS.
    """
    from bot.slack.oauth.commands import new_key_command

    sys.exit(new_key_command(sys.stdout))


@installs.command("rekey")
def installs_rekey() -> None:
    """
    Re-seal every stored token under the first key of SLACK_TOKEN_ENCRYPTION_KEYS
    (after putting a new key first, or turning encryption on); then older keys can be
    dropped. Needs REDIS_URL.
    """
    from bot.slack.oauth.commands import rekey_command

    sys.exit(rekey_command(os.environ, out=sys.stdout, err=sys.stderr))


@app.command("check")
@click.argument("target")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Probe only this port (default: 587, 25, 465).",
)
@click.option(
    "--mode",
    type=click.Choice(["auto", "starttls", "tls"]),
    default="auto",
    show_default=True,
    help="auto (detect), starttls, or tls (implicit TLS, as on 465).",
)
@click.option(
    "--timeout",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds for the whole probe.",
)
@click.option(
    "--servername", default=None, help="Name for SNI and the certificate check."
)
@click.option(
    "--cafile", default=None, help="Extra trusted CA certificates (PEM file)."
)
@click.option(
    "--allow-private",
    is_flag=True,
    help="Allow loopback, private and link-local targets.",
)
@click.option(
    "--json",
    "json_output",
    is_flag=True,
    help="Print JSON: one object per port, an array for several (--mx: one object "
    "for the domain).",
)
@click.option(
    "--mx",
    is_flag=True,
    help="Check the mail domain TARGET as senders do: each MX host on port 25, "
    "MTA-STS, DANE and TLS-RPT.",
)
def check(
    target: str,
    port: int | None,
    mode: str,
    timeout: float,
    servername: str | None,
    cafile: str | None,
    allow_private: bool,
    json_output: bool,
    mx: bool,
) -> None:
    """
    Probe a mail server's STARTTLS or implicit TLS and say why a client cannot connect.

    TARGET is host, host:port, an IP address, or [v6addr]:port (with --mx: a mail
    domain). Exit code: 0 ok or warn, 1 fail, 2 refused or bad usage.
    """
    from bot.probe.command import CheckRequest, run_check

    request = CheckRequest(
        target=target,
        port=port,
        mode=mode,
        timeout=timeout,
        servername=servername,
        cafile=cafile,
        allow_private=allow_private,
        json=json_output,
        mx=mx,
    )
    sys.exit(run_check(request, env=os.environ, out=sys.stdout, err=sys.stderr))


def main() -> None:
    """Run the CLI."""
    app(prog_name="smtpbot")
