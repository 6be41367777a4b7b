# The body of the --fix file script (see file_script.py). Standard library only: it runs on the node.
import base64
import hashlib
import json
import os
import pwd
import signal
import ssl
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile

CHUNK = 1 << 20
TEMP_SUFFIX = ".kubespray-verify-fix"


class Stop(Exception):
    """The runner went away, or a signal asked us to stop."""


def _stop(signum, frame):
    # Once: a second signal (the stdin watcher's, after the runner's) must not interrupt the clean-up.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    raise Stop("stopped by signal %d" % signum)


def redact(url):
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += ":%d" % parts.port
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def answer(data, stream=None):
    out = stream or sys.stdout
    out.write(json.dumps(data) + "\n")
    out.flush()


def opener(request):
    handlers = [urllib.request.ProxyHandler()]  # http_proxy, https_proxy, no_proxy from the environment
    if not request.get("validate_certs", True):
        handlers.append(urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))
    return urllib.request.build_opener(*handlers)


def open_url(request):
    url = request["url"]
    parts = urllib.parse.urlsplit(url)
    username = request.get("username") or (urllib.parse.unquote(parts.username) if parts.username else None)
    password = request.get("password") or (urllib.parse.unquote(parts.password) if parts.password else "")
    plain = redact(url)
    req = urllib.request.Request(plain, headers={"User-Agent": "kubespray-verify-fix"})
    if username:
        token = base64.b64encode(("%s:%s" % (username, password)).encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    return opener(request).open(req, timeout=request.get("timeout", 30))


def with_retries(request, work):
    """work() retried `retries` times with backoff on network errors (not on a checksum mismatch)."""
    attempts = max(1, int(request.get("retries", 1)))
    delay = float(request.get("backoff", 1.0))
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except (urllib.error.URLError, OSError) as exc:
            if isinstance(exc, urllib.error.HTTPError) and 400 <= exc.code < 500 and exc.code not in (408, 429):
                raise
            if attempt == attempts:
                raise
            time.sleep(min(delay * (2 ** (attempt - 1)), float(request.get("backoff_cap", 10.0))))


def hasher(checksum):
    algo = (checksum or "sha256:").split(":", 1)[0] or "sha256"
    return algo, hashlib.new(algo)


def temp_path(dest):
    directory, name = os.path.split(dest)
    return os.path.join(directory, ".%s.%d%s" % (name, os.getpid(), TEMP_SUFFIX))


def owner_ids(owner):
    if not owner:
        return None
    try:
        entry = pwd.getpwnam(owner)
    except KeyError:
        raise ValueError("owner %s: no such user on this host" % owner)
    return entry.pw_uid, entry.pw_gid


def mode_of(mode):
    return int(str(mode).lower().replace("0o", ""), 8) if mode else None


def finish(request, tmp, algo, digest, size):
    found = "%s:%s" % (algo, digest.hexdigest())
    expected = (request.get("checksum") or "").lower()
    if expected and found != expected:
        raise Mismatch(expected, found, size)
    dest = request["dest"]
    mode = mode_of(request.get("mode"))
    os.chmod(tmp, mode if mode is not None else 0o644)
    ids = owner_ids(request.get("owner"))
    if ids:
        os.chown(tmp, *ids)
    os.replace(tmp, dest)
    fd = os.open(os.path.dirname(dest) or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    result = {"ok": True, "checksum": found, "size": size}
    if request.get("unarchive"):
        result["extracted"] = extract(dest, request.get("owner"), request.get("mode"))
    return result


class Mismatch(Exception):
    def __init__(self, expected, found, size):
        super().__init__("checksum mismatch")
        self.expected, self.found, self.size = expected, found, size


def write_from(request, source, limit=None):
    """Copy `source` (a readable) into a temporary file beside dest, hashing; then finish()."""
    dest = request["dest"]
    os.makedirs(os.path.dirname(dest) or ".", mode=0o755, exist_ok=True)
    tmp = temp_path(dest)
    algo, digest = hasher(request.get("checksum"))
    size = 0
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            while limit is None or size < limit:
                chunk = source.read(CHUNK if limit is None else min(CHUNK, limit - size))
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            if limit is not None and size < limit:
                raise Stop("the stream ended after %d of %d bytes" % (size, limit))
            out.flush()
            os.fsync(out.fileno())
        return finish(request, tmp, algo, digest, size)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def extract(archive, owner, mode):
    """Kubespray's unarchive: into the archive's directory, owner (and mode when given) on what it unpacks."""
    target = os.path.dirname(archive)
    names = []
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                safe(target, member.filename)
            zf.extractall(target)
            names = zf.namelist()
    else:
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for member in members:
                safe(target, member.name)
                if member.issym() or member.islnk():
                    safe(target, os.path.join(os.path.dirname(member.name), member.linkname))
            tf.extractall(target, members=members)
            names = [m.name for m in members]
    ids = owner_ids(owner)
    wanted = mode_of(mode)
    for name in names:
        path = os.path.join(target, name)
        if os.path.islink(path):
            continue
        if ids:
            os.chown(path, *ids)
        if wanted is not None and os.path.isfile(path):
            os.chmod(path, wanted)
    return len(names)


def safe(root, name):
    path = os.path.realpath(os.path.join(root, name))
    if not (path == os.path.realpath(root) or path.startswith(os.path.realpath(root) + os.sep)):
        raise ValueError("archive member %s would land outside %s" % (name, root))


def watch_stdin():
    """The runner keeps stdin open while it waits: EOF means it is gone, so stop (and clean up)."""
    def watch():
        try:
            while os.read(0, 65536):
                pass
        except Exception:
            pass
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, daemon=True).start()


def remove_stale(dest):
    """Temporary files an earlier run left when it was killed outright (its process is gone)."""
    directory, name = os.path.split(dest)
    prefix = "." + name + "."
    try:
        entries = os.listdir(directory or ".")
    except OSError:
        return
    for entry in entries:
        if entry.startswith(prefix) and entry.endswith(TEMP_SUFFIX):
            pid = entry[len(prefix):-len(TEMP_SUFFIX)]
            if pid.isdigit() and not os.path.exists("/proc/" + pid):
                try:
                    os.unlink(os.path.join(directory, entry))
                except OSError:
                    pass


def main():
    try:
        return run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)


def run():
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, _stop)
    request = json.loads(sys.stdin.buffer.readline().decode())
    op = request["op"]
    for name, value in (request.get("proxies") or {}).items():
        if value:  # Kubespray's proxy_env: http_proxy, https_proxy, no_proxy
            os.environ[name] = value
            os.environ[name.upper()] = value
    if request.get("dest") and op in ("download", "receive"):
        remove_stale(request["dest"])
    status_stream = sys.stderr if op == "send" else sys.stdout
    try:
        if op == "download":
            watch_stdin()

            def once():
                with open_url(request) as response:
                    return write_from(request, response)
            answer(with_retries(request, once))
        elif op == "receive":
            answer(write_from(request, sys.stdin.buffer, limit=int(request["size"])))
        elif op == "send":
            watch_stdin()
            algo, digest = hasher(request.get("checksum"))
            size = 0
            with with_retries(request, lambda: open_url(request)) as response:
                out = sys.stdout.buffer
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                out.flush()
            answer({"ok": True, "checksum": "%s:%s" % (algo, digest.hexdigest()), "size": size}, status_stream)
        elif op == "correct":
            dest = request["dest"]
            if request.get("mode"):
                os.chmod(dest, mode_of(request["mode"]))
            ids = owner_ids(request.get("owner"))
            if ids:
                os.chown(dest, *ids)
            answer({"ok": True})
        else:
            answer({"ok": False, "error": "unknown operation %s" % op})
            return 2
    except Mismatch as exc:
        answer({"ok": False, "error": "checksum", "expected": exc.expected, "found": exc.found, "size": exc.size,
                "url": redact(request.get("url", ""))}, status_stream)
        return 1
    except urllib.error.HTTPError as exc:
        answer({"ok": False, "error": "HTTP %d %s from %s" % (exc.code, exc.reason, redact(request.get("url", "")))},
               status_stream)
        return 1
    except urllib.error.URLError as exc:
        answer({"ok": False, "error": "%s: %s" % (redact(request.get("url", "")), exc.reason)}, status_stream)
        return 1
    except Stop as exc:
        answer({"ok": False, "error": str(exc)}, status_stream)
        return 130
    except (OSError, ValueError, tarfile.TarError, zipfile.BadZipFile) as exc:
        answer({"ok": False, "error": str(exc)}, status_stream)
        return 1
    return 0


_code = main()
sys.stdout.flush()
sys.stderr.flush()
os._exit(_code)  # no interpreter shutdown racing the stdin watcher
