"""Account trees: the accounts that may ever share state, found once from a scenario."""

from __future__ import annotations

from meterbook.scenarios import format as fmt


def account_trees(scenario: fmt.Scenario) -> list[frozenset[str]]:
    """Groups of customers joined by any parent link, in the file or in a `set_parent` of the
    timeline; ordered by each group's first customer in the file."""
    root = {c.id: c.id for c in scenario.customers}

    def find(x: str) -> str:
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    links = [(c.id, c.parent) for c in scenario.customers if c.parent is not None]
    links += [(e.set_parent.customer, e.set_parent.parent) for e in scenario.timeline
              if e.set_parent is not None and e.set_parent.parent is not None]
    for a, b in links:
        ra, rb = find(a), find(b)
        if ra != rb:
            root[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for c in scenario.customers:
        groups.setdefault(find(c.id), []).append(c.id)
    return [frozenset(ids) for ids in groups.values()]
