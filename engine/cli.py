"""The `meterbook` command line: each command calls one library function.

Exit codes, for every command: 0 ok; 1 expectations or verification failed; 2 bad input (a
scenario file, an input, arguments); 3 an internal error, which is a bug (the traceback is
shown only with `--debug`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from meterbook.engine.simulate import check as check_file
from meterbook.engine.simulate import simulate as simulate_file
from meterbook.errors import InputError, LedgerError, MeterbookError, ScenarioError
from meterbook.ledger import verify_file

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_BUG = 0, 1, 2, 3


class _Group(click.Group):
    """Maps meterbook's error tree onto exit codes, so no user ever sees a traceback for bad
    input, and a bug says so plainly."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except (ScenarioError, InputError) as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except Exception as exc:
            if ctx.meta.get("meterbook.debug"):
                raise
            kind = "ledger error" if isinstance(exc, LedgerError) else "internal error"
            what = str(exc) if isinstance(exc, MeterbookError) else f"{type(exc).__name__}: {exc}"
            click.echo(f"{kind}: {what}\nThis is a bug in meterbook; rerun with --debug for the traceback "
                       "and report it.", err=True)
            ctx.exit(EXIT_BUG)


@click.group(cls=_Group)
@click.version_option(package_name="meterbook")
@click.option("--debug", is_flag=True, envvar="METERBOOK_DEBUG",
              help="Show the traceback of an internal error instead of a one-line message.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """meterbook: price usage, seats and credits on a double-entry ledger.

    Exit codes: 0 ok, 1 expectations or verification failed, 2 bad input, 3 internal error."""
    ctx.meta["meterbook.debug"] = debug


@main.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", default="out", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Directory for the result files.")
def simulate(file: Path | None, out_dir: Path) -> None:
    """Run FILE (default: the bundled example) in virtual time and write ledger.sqlite,
    invoices.json, ledger.jsonl and summary.json into --out."""
    results = simulate_file(file, out_dir)
    for warning in results.warnings:
        click.echo(f"warning: {warning}", err=True)
    summary = results.summary()
    table = Table(title=f"{summary['name']}: invoices ({summary['currency']})")
    for col in ("customer", "package", "period", "status", "total"):
        table.add_column(col, justify="right" if col == "total" else "left")
    for c in summary["customers"]:
        for inv in c["invoices"]:
            table.add_row(c["id"], c["package"] or "-", inv["period"][:10], inv["status"], inv["total"])
    console = Console()
    console.print(table)
    ins = summary["inputs"]
    console.print(f"invoiced (final): {summary['invoiced_total']} {summary['currency']}  "
                  f"inputs: {ins['accepted']} accepted, {ins['duplicates']} duplicates, "
                  f"{ins['denied']} denied  ledger: {summary['ledger_transactions']} transactions  "
                  f"written to {out_dir}/", highlight=False)
    _packages_table(console, out_dir)
    _rollup_tree(console, out_dir)


def _rollup_tree(console: Console, out_dir: Path) -> None:
    """Account trees with usage and spend per period and draws on shared grants."""
    path = out_dir / "rollup.json"
    if not path.exists():
        return
    rows = json.loads(path.read_text())
    if not any(r["parent"] for r in rows):
        return
    by_parent: dict[str | None, list[dict[str, Any]]] = {}
    for r in rows:
        by_parent.setdefault(r["parent"], []).append(r)

    def label(r: dict[str, Any]) -> str:
        periods = ", ".join(f"{p['period'][:7]} usage {p['usage']} spend {p['spend']}" for p in r["periods"])
        return f"[bold]{r['customer']}[/bold]  {periods}"

    def grow(node: Tree, r: dict[str, Any]) -> None:
        for p in r["periods"]:
            for d in p["draws"]:
                node.add(f"[dim]{p['period'][:7]} draw on {d['grant']} by {d['customer']}: {d['amount']}[/dim]")
        for child in by_parent.get(r["customer"], []):
            grow(node.add(label(child)), child)

    tree = Tree("Account roll-ups (subtree usage before credits; spend invoiced)")
    for root in by_parent.get(None, []):
        if by_parent.get(root["customer"]):
            grow(tree.add(label(root)), root)
    console.print(tree)


def _packages_table(console: Console, out_dir: Path) -> None:
    """Revenue by package and period, when any customer is on a package."""
    path = out_dir / "packages.json"
    if not path.exists():
        return
    rows = json.loads(path.read_text())["revenue"]
    if not any(r["package"] != "(contract)" for r in rows):
        return
    table = Table(title="Revenue by package")
    for col in ("period", "package", "revenue"):
        table.add_column(col, justify="right" if col == "revenue" else "left")
    for r in rows:
        table.add_row(r["period"][:10], r["package"], r["revenue"])
    console.print(table)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Run each FILE and check its expect: block. Exit 0 if every expectation holds, 1 if one
    does not, 2 if a file cannot be loaded or run (bad input wins over a failed figure)."""
    failed = bad = 0
    for f in files:
        try:
            misses = check_file(f)
        except (ScenarioError, InputError) as exc:
            click.echo(f"error: {exc}", err=True)
            bad += 1
            continue
        if misses:
            failed += 1
            click.echo(f"FAIL {f}")
            for m in misses:
                click.echo(f"  {m}")
        else:
            click.echo(f"ok   {f}")
    sys.exit(EXIT_BAD_INPUT if bad else EXIT_FAILED if failed else EXIT_OK)


@main.group()
def ledger() -> None:
    """Inspect ledger files."""


@ledger.command()
@click.argument("db", type=click.Path(dir_okay=False, path_type=Path))
def verify(db: Path) -> None:
    """Re-check every invariant of the ledger DB; exit non-zero naming the first violation."""
    problems = verify_file(db)
    if problems:
        click.echo(f"ledger {db}: {problems[0]}", err=True)
        for p in problems[1:]:
            click.echo(f"  also: {p}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(f"ledger {db}: ok")


@ledger.command()
@click.argument("db", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def export(db: Path, out: Path) -> None:
    """Write the deterministic JSON-lines export of DB to OUT."""
    from meterbook.ledger import export_file

    problems = verify_file(db)
    if problems and problems[0].startswith(str(db)):
        click.echo(f"error: {problems[0]}", err=True)  # not a ledger at all: bad input
        sys.exit(EXIT_BAD_INPUT)
    export_file(db, out)


@main.group()
def journal() -> None:
    """Read a ledger's journal (every accepted input, in order)."""


@journal.command("export")
@click.argument("db", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--until", metavar="T", default=None,
              help="Only inputs before T (RFC 3339 or a date); the scenario ends at T.")
def journal_export(db: Path, out: Path, until: str | None) -> None:
    """Write the journal of DB to OUT as a format-1 scenario (catalog, customers, commands and
    usage as timeline entries): simulating it gives the same ledger."""
    from meterbook.engine.journal_export import export_journal

    count = export_journal(db, out, until)
    click.echo(f"journal of {db}: {count} entries written to {out}")
