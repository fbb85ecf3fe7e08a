"""
The ``smtpbot`` command line: diagnose pasted errors, probe mail servers, run the bot.

Each command imports only what it needs, so ``smtpbot check`` and ``smtpbot diagnose``
start fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    name="smtpbot",
    help="Support bot for people who cannot send email: diagnose pasted SMTP/TLS errors, "
    "probe mail servers for STARTTLS problems, and run the Slack bot or its terminal console.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
kb_app = typer.Typer(help="Inspect and validate the knowledge base.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")


@app.command()
def diagnose(
    text: Annotated[str | None, typer.Argument(help="The pasted error; omit or '-' to read "
                                                    "stdin.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Read JSON Lines ({\"text\": ...}) on "
                                        "stdin, write one JSON result per line.")] = False,
) -> None:
    """Recognise a pasted mail error and say what it means and how to fix it."""
    from bot.commands import diagnose_command

    raise typer.Exit(diagnose_command(text, as_json=as_json, jsonl=jsonl))


@kb_app.command("lint")
def kb_lint() -> None:
    """Validate every knowledge file (errors with file and line) and report shadowed entries."""
    from bot.commands import lint_command

    raise typer.Exit(lint_command())


@kb_app.command("stats")
def kb_stats() -> None:
    """Entries and signatures per category, and the code tables' sizes."""
    from bot.commands import stats_command

    raise typer.Exit(stats_command())


@kb_app.command("show")
def kb_show(entry_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Print one entry."""
    from bot.commands import show_command

    raise typer.Exit(show_command(entry_id))


def main() -> None:
    """Run the CLI."""
    app()
