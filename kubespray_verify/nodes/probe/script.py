"""The node probe: one self-contained script a node runs, answering in one JSON document.

It runs under the node's own `python3` (3.8 or newer, standard library only:
every Kubespray node has it, Ansible needs it) and is sent whole in one SSH
command. It reports the node's architecture and os-release, its container
runtime's image list (raw output, parsed on the runner by `runtimes.parsers`), the
hash, size, mode and owner of every path asked for, containerd's hosts.toml
files (as text: the runner reads the TOML), and the answers of the mirror
probes asked for (`http_prober`, shipped in the same command). Hashing uses
`hashlib` (OpenSSL), reading in large blocks. Nothing on the node is changed.

This module is also the script: `PROBE_SOURCE` is this file's own text, and
`command(request)` builds the shell command that runs it with a request.
"""

import base64
import hashlib
import json
import os
import platform
import pwd
import grp
import shutil
import stat
import subprocess
import sys
import time
import zlib

PROBE_VERSION = 1
COMMAND_TIMEOUT = 60  # seconds for each runtime command on the node
BLOCK = 4 * 1024 * 1024
MAX_HASH_THREADS = 4  # files hashed at once on one node (bounded by its CPUs)
SETTLE_NS = 2 * 10**9  # a checksum is reused only for files unchanged this long before the probe started
SEARCH_PATH = ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin", "/opt/bin")
MAX_BLOB = 256 * 1024  # index/manifest JSON read back from containerd's content store
MAX_TEXT = 64 * 1024  # os-release, a hosts.toml
MAX_REGISTRY_DIRS = 500


def _which(name):
    found = shutil.which(name)
    if found:
        return found
    for directory in SEARCH_PATH:
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _run(argv, timeout=COMMAND_TIMEOUT):
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"argv": argv, "rc": None, "stdout": "", "stderr": "timed out after %ds" % timeout}
    except OSError as exc:
        return {"argv": argv, "rc": None, "stdout": "", "stderr": str(exc)}
    return {
        "argv": argv,
        "rc": proc.returncode,
        "stdout": proc.stdout.decode("utf-8", "replace"),
        "stderr": proc.stderr.decode("utf-8", "replace")[-4000:],
    }


def _containerd(request):
    ctr = _which("ctr")
    if ctr is None:
        return {"source": "ctr", "error": "ctr not found on the node"}
    base = [ctr]
    if request.get("containerd_address"):
        base += ["--address", request["containerd_address"]]
    base += ["-n", request.get("containerd_namespace", "k8s.io")]
    listing = _run(base + ["images", "ls"])
    result = {"source": "ctr", "images": listing, "blobs": {}}
    if listing["rc"] != 0 or not request.get("blobs"):
        return result
    store = os.path.join(request.get("containerd_root", "/var/lib/containerd"),
                         "io.containerd.content.v1.content", "blobs")
    # Index and manifest documents of every listed target, and the platform manifests inside each
    # index: the config digest (image ID) can then be judged without asking the registry.
    targets = []
    for line in listing["stdout"].splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[2].startswith("sha256:") and \
                any(kind in fields[1] for kind in ("index", "list", "manifest")):
            targets.append(fields[2])
    _collect(base, store, targets, result["blobs"])
    return result


def _collect(base, store, digests, blobs):
    """Read each document into `blobs`; for an index, also the platform manifests it lists."""
    for digest in digests:
        if digest in blobs:
            continue
        text = _content(base, store, digest)
        if text is None:
            continue
        blobs[digest] = text
        try:
            children = json.loads(text).get("manifests") or []
        except (ValueError, AttributeError):
            children = []
        _collect(base, store, [c.get("digest") for c in children if c.get("digest")], blobs)


def _content(base, store, digest):
    """A document from containerd's content store: read from disk, else through `ctr content get`."""
    algo, _, hexpart = digest.partition(":")
    path = os.path.join(store, algo, hexpart)
    try:
        if os.path.getsize(path) <= MAX_BLOB:
            with open(path, "r") as fh:
                return fh.read()
        return None
    except OSError:
        pass
    blob = _run(base + ["content", "get", digest])
    if blob["rc"] == 0 and len(blob["stdout"]) <= MAX_BLOB:
        return blob["stdout"]
    return None


def _docker(request):
    docker = _which("docker")
    if docker is None:
        return {"source": "docker", "error": "docker not found on the node"}
    base = [docker]
    if request.get("docker_host"):
        base += ["-H", request["docker_host"]]
    ids = _run(base + ["image", "ls", "-q", "--no-trunc"])
    if ids["rc"] != 0:
        return {"source": "docker", "images": ids}
    unique = sorted(set(ids["stdout"].split()))
    if not unique:
        return {"source": "docker", "images": dict(ids, stdout="[]")}
    return {"source": "docker", "images": _run(base + ["image", "inspect"] + unique)}


def _crio(request):
    crictl = _which("crictl")
    if crictl is not None:
        return {"source": "crictl", "images": _run([crictl, "images", "-o", "json"])}
    podman = _which("podman")
    if podman is not None:
        return {"source": "podman", "images": _run([podman, "images", "--format", "json"])}
    root = request.get("storage_root", "/var/lib/containers/storage")
    for driver in ("overlay", "vfs"):
        path = os.path.join(root, "%s-images" % driver, "images.json")
        if os.path.exists(path):
            with open(path, "r") as fh:
                return {"source": "storage", "path": path,
                        "images": {"argv": ["read", path], "rc": 0, "stdout": fh.read(), "stderr": ""}}
    return {"source": "storage", "error": "neither crictl, podman nor %s/*-images/images.json on the node" % root}


RUNTIMES = {"containerd": _containerd, "docker": _docker, "crio": _crio}


def _owner(uid, gid):
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return user, group


def _hash(path, algo):
    digest = hashlib.new(algo)
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while True:
            n = fh.readinto(buf)
            if not n:
                break
            digest.update(view[:n])
    return "%s:%s" % (algo, digest.hexdigest())


def _identity(st):
    """What changes whenever a file's content can have changed: a new write sets ctime to now."""
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _files(paths, known, started_ns):
    """Stat every path, then hash what must be hashed: each distinct file once, several at a time.

    `known` maps a path to a checksum an earlier run read, with the file identity it read it at
    ({"id": [...], "checksum": "algo:hex"}): a file whose identity is unchanged is not read again
    (its record says "memo"). A file whose ctime is older than SETTLE_NS before this probe
    started is "settled": a later write would give it a new ctime, so its checksum may be reused.
    """
    records, todo = {}, {}
    for entry in paths:
        path, algo = entry["path"], entry.get("algo")
        try:
            st = os.stat(path)
        except FileNotFoundError:
            records[path] = {"exists": False}
            continue
        except OSError as exc:
            records[path] = {"exists": None, "error": exc.strerror or str(exc)}
            continue
        user, group = _owner(st.st_uid, st.st_gid)
        info = {
            "exists": True,
            "type": "file" if stat.S_ISREG(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "other",
            "size": st.st_size,
            "mode": format(stat.S_IMODE(st.st_mode), "04o"),
            "owner": user,
            "group": group,
        }
        records[path] = info
        if info["type"] != "file" or not algo:
            continue
        info["id"] = _identity(st)
        memo = known.get(path)
        if memo and memo.get("id") == info["id"] and str(memo.get("checksum", "")).startswith(algo + ":"):
            info["checksum"] = memo["checksum"]
            info["memo"] = True
            info["settled"] = True
            continue
        # Hard links and a path asked for twice: one reading.
        todo.setdefault((st.st_dev, st.st_ino, algo), []).append(path)

    def read(key):
        first = todo[key][0]
        try:
            checksum, error = _hash(first, key[2]), None
        except (OSError, ValueError) as exc:
            checksum, error = None, str(exc)
        for path in todo[key]:
            info = records[path]
            if error:
                info["error"] = error
                continue
            info["checksum"] = checksum
            try:
                after = _identity(os.stat(path))
            except OSError:
                after = None
            if after != info["id"]:
                # Written (or replaced) while it was read: the checksum is of no one version of it.
                info.pop("checksum")
                info["error"] = "changed while it was being read"
                continue
            info["settled"] = info["id"][4] < started_ns - SETTLE_NS

    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    workers = max(1, min(MAX_HASH_THREADS, cpus, len(todo)))
    if workers == 1:
        for key in todo:
            read(key)
    else:
        # hashlib releases the GIL while it digests large blocks: files hash on several cores.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(read, list(todo)))
    return records


def _os_release():
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            with open(path, "r") as fh:
                return fh.read(MAX_TEXT)
        except OSError:
            continue
    return ""


def _registry_hosts(request):
    """containerd's hosts.toml files, as text (the runner reads the TOML): {dir name: {path, text}}."""
    root = request.get("dir") or "/etc/containerd/certs.d"
    found = {"dir": root, "files": {}}
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return found
    except OSError as exc:
        found["error"] = exc.strerror or str(exc)
        return found
    for name in names[:MAX_REGISTRY_DIRS]:
        path = os.path.join(root, name, "hosts.toml")
        try:
            with open(path, "r") as fh:
                found["files"][name] = {"path": path, "text": fh.read(MAX_TEXT)}
        except FileNotFoundError:
            continue
        except OSError as exc:
            found["files"][name] = {"path": path, "error": exc.strerror or str(exc)}
    return found


def _machine_id():
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path, "r") as fh:
                return fh.read(64).strip()
        except OSError:
            continue
    return ""


def _shipped(name):
    """A module the runner sent with this script (see `_source`), made only when a request needs it,
    under its own name (with the modules it imports, sent before it); on the runner, the installed module."""
    import importlib

    sources = globals().get("_SHIPPED")
    if sources is not None and name not in sys.modules:
        import types

        for shipped, source in sources:
            if shipped in sys.modules:
                continue
            parent = ""
            for part in shipped.split(".")[:-1]:  # the packages above it, empty
                parent = parent + "." + part if parent else part
                if parent not in sys.modules:
                    package = types.ModuleType(parent)
                    package.__path__ = []
                    sys.modules[parent] = package
            module = types.ModuleType(shipped)
            sys.modules[shipped] = module
            exec(compile(source, shipped, "exec"), module.__dict__)
            if shipped == name:
                break
    return importlib.import_module(name)


def probe(request):
    started_ns = time.time_ns()
    uname = os.uname()
    answer = {
        "probe": PROBE_VERSION,
        "facts": {"architecture": uname.machine, "system": platform.system(), "hostname": uname.nodename,
                  "os_release": _os_release()},
        "python": platform.python_version(),
        "machine_id": _machine_id(),
    }
    if request.get("registry_hosts"):
        answer["registry_hosts"] = _registry_hosts(request["registry_hosts"])
    if request.get("mirrors"):
        answer["mirrors"] = _shipped("kubespray_verify.nodes.probe.http_prober").run(request["mirrors"])
    runtime = request.get("runtime")
    if runtime:
        handler = RUNTIMES.get(runtime)
        answer["images"] = handler(request) if handler else {"error": "unknown runtime %s" % runtime}
        answer["images"]["runtime"] = runtime
    if request.get("paths"):
        memo = request.get("memo") or {}
        # Checksums an earlier run read are reused only on the machine that answered them.
        known = memo.get("files", {}) if memo.get("machine_id") == answer["machine_id"] else {}
        answer["files"] = _files(request["paths"], known, started_ns)
    return answer


def _main():
    request = json.loads(zlib.decompress(base64.b64decode(sys.argv[1])).decode()) if len(sys.argv) > 1 else {}
    sys.stdout.write(json.dumps(probe(request)))


if __name__ == "__main__":
    _main()


# ---------------------------------------------------------------------------
# Runner side (not executed on the node).

# Standard-library-only modules the script may import, each after the ones it imports.
SHIPPED_MODULES = ("kubespray_verify.http.rules", "kubespray_verify.nodes.probe.http_prober")
