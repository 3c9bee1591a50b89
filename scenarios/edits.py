"""`edit_contract` entries of a scenario: the ids they give and what they name (pure helpers
shared by validation and by the conversion into engine inputs)."""

from __future__ import annotations

from collections.abc import Iterator

from meterbook.scenarios.format import EditContract, Entry, Scenario


def command_id(e: Entry, index: int) -> str:
    """A command's name: its `id:`, else its place in the timeline."""
    return e.id or f"timeline-{index}"


def edit_grant_id(command: str, kind: str, index: int) -> str:
    """The id of an added credit, commit or recurring credit that gives none:
    `<command>-<kind>-<N>` (`timeline-7-credit-0`), so it never meets a contract's `credit-0`."""
    return f"{command}-{kind}-{index}"


def edit_grant_ids(e: Entry, index: int) -> list[tuple[str, str]]:
    """(grant id, path) of the credits and commits one edit_contract entry adds."""
    edit = e.edit_contract
    assert edit is not None
    command, path = command_id(e, index), f"$.timeline[{index}].edit_contract"
    out = [(g.id or edit_grant_id(command, "credit", k), f"{path}.add_credits[{k}]")
           for k, g in enumerate(edit.add_credits)]
    out += [(g.id or edit_grant_id(command, "commit", k), f"{path}.add_commits[{k}]")
            for k, g in enumerate(edit.add_commits)]
    return out


def edit_recurring_ids(e: Entry, index: int) -> list[str]:
    """The ids of the recurring credits one edit_contract entry adds."""
    edit = e.edit_contract
    assert edit is not None
    return [rc.id or edit_grant_id(command_id(e, index), "recurring", k)
            for k, rc in enumerate(edit.add_recurring_credits)]


def edits_of(s: Scenario, customer: str) -> list[tuple[int, EditContract]]:
    """A customer's edit_contract entries (timeline index, body) in the order they apply: by
    time, then file order (they are commands of one phase)."""
    found = [(e.at, i, e.edit_contract) for i, e in enumerate(s.timeline)
             if e.edit_contract is not None and e.edit_contract.customer == customer]
    return [(i, edit) for _, i, edit in sorted(found, key=lambda t: (t[0], t[1]))]


def edit_references(edit: EditContract) -> Iterator[tuple[str, str, str, str]]:
    """(section, id, path under the entry, kind) of every product and credit type an edit
    names, so each can be checked to exist by the edit's instant."""
    for kind in ("add_credits", "add_commits"):
        for k, g in enumerate(getattr(edit, kind)):
            if g.credit_type is not None:
                yield "credit_types", g.credit_type, f"{kind}[{k}].credit_type", "credit type"
            for m, prod in enumerate(g.products or []):
                yield "products", prod, f"{kind}[{k}].products[{m}]", "product"
    for k, sub in enumerate(edit.add_subscriptions):
        yield "products", sub.product, f"add_subscriptions[{k}].product", "product"
    for k, rc in enumerate(edit.add_recurring_credits):
        if rc.credit_type is not None:
            yield "credit_types", rc.credit_type, f"add_recurring_credits[{k}].credit_type", "credit type"
        for m, prod in enumerate(rc.products or []):
            yield "products", prod, f"add_recurring_credits[{k}].products[{m}]", "product"
    for k, rate in enumerate(edit.add_overrides):
        yield "products", rate.product, f"add_overrides[{k}].product", "product"
        if rate.credit_type is not None:
            yield "credit_types", rate.credit_type, f"add_overrides[{k}].credit_type", "credit type"
