"""HTTP for registries, mirrors and file repos.

`policy` is pure (timeouts, the retry policy, credentials, proxies, status → error); `transport` is the
one place the runner sends HTTP (requests). May import the plain values and the node prober's pure
proxy rule; never `nodes`, `registry` or `mirrors`.
"""
