"""Verdicts, pure: expected against observed → one `Verdict(status, message, facts)`.

`status` holds the one `Status` (pass, fail, error, skip) and `Verdict`; `node` judges a node's images
and files. Imports only the plain values and `runtimes.parsers`; never I/O.
"""
