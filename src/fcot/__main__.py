"""`python -m fcot` is the `fcot` command."""

from fcot.cli import main

main()
