"""Container runtimes (containerd, docker, containers-storage for cri-o), pure.

`parsers`: what a runtime prints about its images → `NodeImage`s. Imports only the plain values
(`refs`, `digests`); runs nothing itself.
"""
