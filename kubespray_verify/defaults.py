"""Every default of a run that an operator can change, read by the options and by the engine alike.

Plain values, no imports: the installed pytest plugin reads them before anything heavy is loaded.
The HTTP timeouts and retries live with the rules the nodes share (`http.rules`); the node probe's own
limits live in the probe (`nodes.probe.script`), which runs where the suite is not installed.
"""

NODE_CONCURRENCY = 32  # nodes observed at once (--node-concurrency)
NODE_CONNECT_TIMEOUT = 10  # seconds to establish a connection to a node (--connect-timeout)
MIRROR_CONCURRENCY = 8  # mirror probes at once, from the runner and on each node (--mirror-concurrency)

# --fix
FIX_CONCURRENCY = 8  # items fixed at once (one image content or one file each, to all its nodes)
FIX_BACKOFF = 1.0  # seconds before the first retry of a pull or a download; doubled each time
FIX_BACKOFF_CAP = 10.0  # seconds at most between two tries
FIX_COMMAND_TIMEOUT = 1800  # seconds the runner's docker daemon may take to answer one request
