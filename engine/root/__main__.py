"""`python -m meterbook`: the same command line as the `meterbook` script."""

from meterbook.engine.cli import main

main()
