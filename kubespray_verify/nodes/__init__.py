"""Nodes: reaching each node over the connection Ansible would use, and what it answers.

`connection` (testinfra's backends), `observe` (at most two round trips per node, nodes in parallel),
`checksum_memo` (checksums kept on the runner), `evidence` (a probe's answer → values verdicts judge),
and `probe/` (the standard-library script a node runs). May import everything below it: the plain
values, `cache`, `runtimes`, `verdicts`, `http.policy` and `resolve`; never `registry`, `mirrors`,
`fix`, `cli` or `lab`.
"""
