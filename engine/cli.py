"""The `meterbook` command line: each command calls one library function."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from meterbook.engine.simulate import check as check_file
from meterbook.engine.simulate import simulate as simulate_file
from meterbook.ledger import LedgerError, verify_file
from meterbook.scenarios import ScenarioError
from rich.console import Console
from rich.table import Table


@click.group()
@click.version_option(package_name="meterbook")
def main() -> None:
    """meterbook: price usage, seats and credits on a double-entry ledger."""


@main.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", default="out", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Directory for the result files.")
def simulate(file: Path | None, out_dir: Path) -> None:
    """Run FILE (default: the bundled example) in virtual time and write ledger.sqlite,
    invoices.json, ledger.jsonl and summary.json into --out."""
    try:
        results = simulate_file(file, out_dir)
    except ScenarioError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
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
    import json

    from rich.tree import Tree

    path = out_dir / "rollup.json"
    if not path.exists():
        return
    rows = json.loads(path.read_text())
    if not any(r["parent"] for r in rows):
        return
    by_parent: dict[str | None, list[dict]] = {}
    for r in rows:
        by_parent.setdefault(r["parent"], []).append(r)

    def label(r: dict) -> str:
        periods = ", ".join(f"{p['period'][:7]} usage {p['usage']} spend {p['spend']}" for p in r["periods"])
        return f"[bold]{r['customer']}[/bold]  {periods}"

    def grow(node: Tree, r: dict) -> None:
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
    import json

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
    """Run each FILE and check its expect: block; exit 0 only if every expectation holds."""
    failed = 0
    for f in files:
        try:
            misses = check_file(f)
        except ScenarioError as exc:
            click.echo(f"error: {exc}", err=True)
            failed += 1
            continue
        if misses:
            failed += 1
            click.echo(f"FAIL {f}")
            for m in misses:
                click.echo(f"  {m}")
        else:
            click.echo(f"ok   {f}")
    sys.exit(1 if failed else 0)


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
        sys.exit(1)
    click.echo(f"ledger {db}: ok")


@ledger.command()
@click.argument("db", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def export(db: Path, out: Path) -> None:
    """Write the deterministic JSON-lines export of DB to OUT."""
    from meterbook.ledger import export_file

    try:
        export_file(db, out)
    except LedgerError as exc:  # pragma: no cover - export reads only
        raise click.ClickException(str(exc)) from None
