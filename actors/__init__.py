"""The domain: typed messages, catalog types, pure pricing functions and the actors."""

from meterbook.actors.accounts import Chart
from meterbook.actors.catalog import Catalog, ContractSpec, GrantSpec, Price, RateCard, RecurringSpec, Unit
from meterbook.actors.customer import Customer
from meterbook.actors.errors import CommandError
from meterbook.actors.parent import ParentAccount
from meterbook.actors.pool import CreditPool
from meterbook.actors.seat import Seat

__all__ = [
    "Catalog",
    "Chart",
    "CommandError",
    "ContractSpec",
    "CreditPool",
    "Customer",
    "GrantSpec",
    "ParentAccount",
    "Price",
    "RateCard",
    "RecurringSpec",
    "Seat",
    "Unit",
]
