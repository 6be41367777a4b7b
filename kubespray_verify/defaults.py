"""Every default of a run that an operator can change, read by the options and by the engine alike.

Plain values, no imports: the installed pytest plugin reads them before anything heavy is loaded.
The HTTP timeouts and retries live with the rules the nodes share (`http.rules`); the node probe's own
limits live in the probe (`nodes.probe.script`), which runs where the suite is not installed.
"""

NODE_CONCURRENCY = 32  # nodes observed at once (--node-concurrency)
NODE_CONNECT_TIMEOUT = 10  # seconds to establish a connection to a node (--connect-timeout)
MIRROR_CONCURRENCY = 8  # mirror probes at once, from the runner and on each node (--mirror-concurrency)
