"""Resolution: inventory + Kubespray's vars → what each node is expected to hold, with ansible-core itself.

All ansible-core use lives here: the inputs Ansible would see (sources checked, YAML checked, inventory,
extra vars, limit), the Kubespray tree, the expected state and its cache, each host's connection
variables and mirror settings. May import the plain values (`errors`, `model`, `digests`, `refs`,
`redact`, `kubespray`, `defaults`), `cache` and `http.policy`; never `nodes`, `http.transport`,
`registry`, `mirrors`, `subprocess` or `requests`.
"""
