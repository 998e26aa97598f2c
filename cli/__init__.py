"""The `payable` command: the one place that wires node, worker, chain tools and client together.

One module per subject (node, worker, chaintools, chain, datanet, model, demo), each registering its
subcommands on the parser in `cli.main`; the options every client command shares (`--node`, `--json`,
`--from`) are defined once, in `cli.common`. Nothing imports this package.
"""
