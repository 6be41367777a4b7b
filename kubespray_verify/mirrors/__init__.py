"""Mirrors, registries and package repos: can each be reached from the runner and from each node.

Pure modules: `hosts_toml` (containerd's registry hosts), `repos` (which repo
vars apply where, and the path that proves a repo), `endpoints` (the order a
node's runtime tries registries in), `plan` (checks and the probes they share),
`outcomes` (probe results as data), `judge` (verdicts). I/O: `runner` (probes
from the runner), `session` (one run: runner probes beside the nodes' round
trips). Each host's mirror settings are read by `resolve.host_settings`.
May import every room below it (plain values, `http`, `registry`, `verdicts`,
`resolve`); never `nodes.connection`, `fix`, `cli` or `lab`.
"""
