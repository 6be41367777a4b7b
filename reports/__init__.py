"""Report writers: JUnit XML (junit-xml), JSON and the terminal summary, fed by one plain result model.

`model` holds the run's results (a `Case` per check, a `Suite` per vantage point: each node,
`runner`, `cluster`); `junit`, `json_report` and `terminal` render one `RunResult`; `output` writes
a report file atomically; `progress` draws a long phase's progress on the operator's terminal.
The pytest wiring that gathers the results lives in `plugins/results.py`.

May import the engine's plain values (`kubespray_verify.redact`...) and junit-xml; never pytest,
never a node, a registry or the network.
"""
