"""Registries: the OCI distribution API as the runner asks it.

`auth` (challenges, tokens: pure), `client` (manifests, indexes, pushes over `http.transport`), `tags`
(a pinned digest against what the tag serves), `site` (the runner's access to the site's registries,
from the hosts' mirror settings), `evidence` (asked only when a node's own documents cannot settle a
pin). May import the plain values, `http`, `nodes.evidence`, `verdicts` and `resolve`; never
`mirrors`, `fix`, `cli` or `lab`.
"""
