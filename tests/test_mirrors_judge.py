"""Mirror verdicts and their wording, from probe results (pure): every failure reads differently."""

import pytest

from kubespray_verify import errors
from kubespray_verify.http.policy import ProxySettings
from kubespray_verify.mirrors.endpoints import Endpoint, Route
from kubespray_verify.mirrors.judge import judge
from kubespray_verify.mirrors.outcomes import Attempt, ProbeResult, node_error
from kubespray_verify.mirrors.plan import CheckPlan, ImageProbe, Part, UrlProbe

URL = "http://files.site/dl.k8s.io/kubeadm"
A, B, C = "sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64
PLATFORMS = {"linux/amd64": B, "linux/arm64": C}
INDEX = {"digest": A, "media_type": "application/vnd.oci.image.index.v1+json", "platforms": PLATFORMS}
SINGLE = {"digest": B, "media_type": "application/vnd.docker.distribution.manifest.v2+json"}


def file_check(vantage="runner", credentialed=False):
    probe = UrlProbe((URL,), True, ProxySettings())
    return CheckPlan(vantage, "files:kubeadm", [Part(probe, {"url": URL, "hosts": ["node1"],
                                                             "credentialed": credentialed})]), probe


def image_check(needs, route=None, vantage="node1", credentialed=False):
    route = route or Route("r.site", "hosts.toml", (Endpoint("https://r.site/v2", "server", "server https://r.site"),))
    probe = ImageProbe("calico/node", "v3", route)
    context = {"reference": "r.site/calico/node:v3", "needs": needs, "hosts": [n["host"] for n in needs],
               "credentialed": credentialed}
    return CheckPlan(vantage, "registry:r.site/calico/node:v3", [Part(probe, context)]), probe


def need(host="node1", arch="amd64", digest=None):
    return {"host": host, "arch": arch, "digest": digest}


def served(info, where="server https://r.site", role="server"):
    return Attempt(where, role, dict(info))


# -- every failure reads differently ---------------------------------------------

SUBJECT = f"file {URL}"
FAILURES = [
    (errors.AuthenticationRequired, {"status": 401}, "files.site requires credentials and none were given (HTTP 401)"),
    (errors.AuthenticationFailed, {"status": 401, "creds": True}, "files.site rejected the credentials (HTTP 401)"),
    (errors.AccessDenied, {"status": 403}, "access denied by files.site (HTTP 403)"),
    (errors.NotFound, {"status": 404}, "not found on files.site (HTTP 404)"),
    (errors.RateLimited, {"status": 429, "headers": {"retry-after": "30"}},
     "rate limited by files.site (HTTP 429, Retry-After 30 s)"),
    (errors.ServerError, {"status": 503}, "server error on files.site (HTTP 503)"),
    (errors.TLSVerificationFailed, {"error": {"kind": "tls-verify", "detail": "self-signed certificate"}},
     "TLS certificate of files.site not trusted: self-signed certificate"),
    (errors.TLSHandshakeFailed, {"error": {"kind": "tls-handshake", "detail": "WRONG_VERSION_NUMBER"}},
     "TLS handshake with files.site failed: WRONG_VERSION_NUMBER (plain HTTP on that port?)"),
    (errors.NameResolutionFailed, {"error": {"kind": "dns", "detail": "Name or service not known"}},
     "cannot resolve host files.site"),
    (errors.ConnectionRefused, {"error": {"kind": "refused", "detail": "[Errno 111]"}},
     "connection to files.site refused: nothing listens there"),
    (errors.ConnectTimeout, {"error": {"kind": "connect-timeout", "detail": "timed out"}},
     "connection to files.site timed out"),
    (errors.ReadTimeout, {"error": {"kind": "read-timeout", "detail": "timed out"}},
     "files.site accepted the connection but did not answer in time"),
    (errors.ConnectionFailed, {"error": {"kind": "unreachable", "detail": "No route to host"}},
     "no route to files.site: No route to host"),
]


@pytest.mark.parametrize("cls, record, says", FAILURES, ids=[c.__name__ for c, _, _ in FAILURES])
def test_a_node_record_becomes_the_runners_error(cls, record, says):
    creds = record.pop("creds", False)
    error = node_error(record, SUBJECT, URL, had_credentials=creds)
    assert type(error) is cls and str(error).startswith(f"{SUBJECT}: {says}")


def test_every_failure_has_its_own_verdict():
    messages = set()
    for cls, record, says in FAILURES:
        plan, probe = file_check()
        record = {k: v for k, v in record.items() if k != "creds"}
        error = node_error(record, SUBJECT, URL, had_credentials=cls is errors.AuthenticationFailed)
        verdict = judge(plan, {probe: ProbeResult([Attempt.failed(URL, error)])})
        assert verdict.status == "fail" and says in verdict.message
        messages.add(verdict.message)
    assert len(messages) == len(FAILURES)


def test_credentials_never_reach_a_message():
    error = node_error({"status": 404}, "file http://user:s3cret@files.site/x", "http://user:s3cret@files.site/x")
    assert "s3cret" not in str(error) and "s3cret" not in error.url


# -- files -------------------------------------------------------------------------


def test_file_answers():
    plan, probe = file_check()
    verdict = judge(plan, {probe: ProbeResult([Attempt(URL, info={"status": 200, "size": 12, "method": "HEAD"})])})
    assert (verdict.status, verdict.message) == ("pass", f"files:kubeadm from the runner: {URL} answers (HEAD 200, 12 bytes)")


def test_a_node_reaching_a_server_that_wants_the_runners_credentials():
    plan, probe = file_check("node2", credentialed=True)
    error = node_error({"status": 401}, SUBJECT, URL)
    verdict = judge(plan, {probe: ProbeResult([Attempt.failed(URL, error)])})
    assert verdict.status == "pass" and "reachable from node2 and asks for credentials" in verdict.message


def test_the_runner_without_credentials_fails():
    plan, probe = file_check("runner", credentialed=False)
    verdict = judge(plan, {probe: ProbeResult([Attempt.failed(URL, node_error({"status": 401}, SUBJECT, URL))])})
    assert verdict.status == "fail"


def test_repo_alternatives_and_what_was_assumed():
    urls = ("http://deb.site/dists/bookworm/InRelease", "http://deb.site/dists/bookworm/Release")
    probe = UrlProbe(urls, True, ProxySettings())
    plan = CheckPlan("node1", "repo:debian_repo", [Part(probe, {"hosts": ["node1"], "assumed": ["suite bookworm"]})])
    missing = [Attempt.failed(u, node_error({"status": 404}, f"file {u}", u)) for u in urls]
    verdict = judge(plan, {probe: ProbeResult(missing)})
    assert verdict.status == "fail" and verdict.message.count("not found on deb.site") == 2
    assert verdict.message.endswith("[suite bookworm]")
    answered = judge(plan, {probe: ProbeResult(missing[:1] + [Attempt(urls[1], info={"status": 200, "method": "HEAD"})])})
    assert answered.status == "pass" and "Release answers (HEAD 200) (after" in answered.message


def test_a_pypi_index_answering_something_else():
    probe = UrlProbe(("https://pypi.site/simple/",), True, ProxySettings(), accept_types=("text/html",))
    plan = CheckPlan("runner", "repo:pyrepo_index", [Part(probe, {"hosts": ["node1"]})])
    found = Attempt("https://pypi.site/simple/", info={"status": 200, "content_type": "application/octet-stream"})
    verdict = judge(plan, {probe: ProbeResult([found])})
    assert verdict.status == "fail" and "not a PyPI simple index" in verdict.message


def test_a_probe_that_could_not_be_built_is_an_error_and_a_skip_is_a_skip():
    plan = CheckPlan("node1", "repo:yum_repo", [Part(None, {"hosts": ["node1"]}, "cannot build the yum_repo URL")])
    assert judge(plan, {}).status == "error"
    assert judge(CheckPlan("node1", "repo:yum_repo", skip="not for Debian"), {}).status == "skip"


# -- images ------------------------------------------------------------------------


@pytest.mark.parametrize("info, needs, status, says", [
    (INDEX, [need()], "pass", f"{A} (OCI index: linux/amd64, linux/arm64)"),
    (INDEX, [need(arch="s390x")], "fail", "the index has no linux/s390x image (needed by node1)"),
    (SINGLE, [need(), need("node3", "arm64")], "fail", "a single-platform manifest cannot serve amd64 and arm64 hosts"),
    (SINGLE, [need()], "pass", f"{B} (Docker manifest)"),
    (INDEX, [need(digest=A)], "pass", ", the pinned digest"),
    (INDEX, [need(digest=B.split(":")[1])], "pass", f"holding the pinned {B}"),  # bare hex pin of the amd64 child
    (INDEX, [need(digest=C)], "fail", f"node1 pins {C}, the linux/arm64 manifest of the index, but is linux/amd64"),
    (SINGLE, [need(digest=A)], "fail", f"node1 pins {A}; the registry serves {B}"),
])
def test_digest_pins_and_architectures(info, needs, status, says):
    plan, probe = image_check(needs)
    verdict = judge(plan, {probe: ProbeResult([served(info)])})
    assert verdict.status == status and says in verdict.message, verdict.message


def _mirror_then_server(server="https://r.site", public=None):
    return Route("r.site", "/etc/containerd/certs.d/r.site/hosts.toml",
                 (Endpoint("http://10.0.0.9:5999/v2", "mirror", "mirror http://10.0.0.9:5999"),
                  Endpoint(f"{server}/v2", "server", f"server {server}")), public_fallback=public)


def test_a_dead_mirror_and_the_server_fallback():
    plan, probe = image_check([need()], _mirror_then_server())
    refused = errors.ConnectionRefused("registry API: connection to 10.0.0.9:5999 refused: nothing listens there")
    result = ProbeResult([Attempt.failed("mirror http://10.0.0.9:5999", refused, "mirror"), served(INDEX)])
    verdict = judge(plan, {probe: result})
    assert verdict.status == "pass"
    assert "from server https://r.site (/etc/containerd/certs.d/r.site/hosts.toml) (after mirror " \
           "http://10.0.0.9:5999 failed: registry API: connection to 10.0.0.9:5999 refused" in verdict.message


def test_served_only_by_the_public_upstream_fails_and_configuring_it_warns():
    route = _mirror_then_server("https://registry-1.docker.io", public="server https://registry-1.docker.io")
    plan, probe = image_check([need()], route)
    refused = errors.ConnectionRefused("registry API: connection refused")
    via_public = judge(plan, {probe: ProbeResult([Attempt.failed("mirror http://10.0.0.9:5999", refused, "mirror"),
                                                  served(INDEX, "server https://registry-1.docker.io")])})
    assert via_public.status == "fail" and "served only by server https://registry-1.docker.io, a public registry" \
        in via_public.message
    via_mirror = judge(plan, {probe: ProbeResult([served(INDEX, "mirror http://10.0.0.9:5999", "mirror")])})
    assert via_mirror.status == "pass" and "falls back to server https://registry-1.docker.io" in via_mirror.warnings[0]


def test_no_endpoint_may_resolve_a_tag():
    route = Route("r.site", "hosts.toml", (), passed_over=(("mirror http://m", "capabilities [pull] lack resolve"),))
    plan, probe = image_check([need()], route)
    verdict = judge(plan, {probe: ProbeResult()})
    assert verdict.status == "fail" and "no endpoint may resolve a tag" in verdict.message


def test_a_hosts_toml_containerd_cannot_use():
    plan, probe = image_check([need()], Route("r.site", "hosts.toml", error="containerd cannot use /x: not valid TOML"))
    assert judge(plan, {probe: ProbeResult()}).message.endswith("containerd cannot use /x: not valid TOML")


def test_401_from_a_node_when_the_runner_holds_the_credentials():
    unauthorized = errors.AuthenticationRequired("registry API: r.site requires credentials (HTTP 401)")
    for vantage, credentialed, status in (("node2", True, "pass"), ("node2", False, "fail"), ("runner", True, "fail")):
        plan, probe = image_check([need()], vantage=vantage, credentialed=credentialed)
        verdict = judge(plan, {probe: ProbeResult([Attempt.failed("https://r.site", unauthorized)])})
        assert verdict.status == status, (vantage, credentialed)


def test_what_the_probe_noted_is_said_and_a_broken_probe_is_an_error():
    plan, probe = image_check([need()])
    noted = ProbeResult([served(INDEX)], notes=["server https://r.site: header authorization of the node's "
                                                 "hosts.toml could not be read back"])
    assert "could not be read back" in judge(plan, {probe: noted}).message
    broken = ProbeResult(notes=["the node probe failed: KeyError: 'api'"])
    verdict = judge(plan, {probe: broken})
    assert verdict.status == "error" and "KeyError" in verdict.message


# -- the facts the reports carry ---------------------------------------------------


def test_a_file_checks_facts_name_the_endpoint_that_answered_and_what_failed_before():
    urls = ("http://deb.site/dists/bookworm/InRelease", "http://deb.site/dists/bookworm/Release")
    probe = UrlProbe(urls, True, ProxySettings())
    plan = CheckPlan("node1", "repo:debian_repo", [Part(probe, {"hosts": ["node1"], "url": "http://deb.site"})])
    missing = Attempt.failed(urls[0], node_error({"status": 404}, f"file {urls[0]}", urls[0]))
    verdict = judge(plan, {probe: ProbeResult([missing, Attempt(urls[1], info={"status": 200, "method": "HEAD"})])})
    assert verdict.facts == {"target": "repo:debian_repo", "from": "node1", "hosts": ["node1"],
                             "url": "http://deb.site", "answer": "HEAD 200", "endpoint": urls[1],
                             "tried": [f"{urls[0]}: {missing.error}"]}


def test_an_image_checks_facts_put_the_needed_platforms_and_pins_beside_what_the_registry_serves():
    plan, probe = image_check([need(digest=C), need("node3", "s390x")])
    verdict = judge(plan, {probe: ProbeResult([served(INDEX)])})
    assert verdict.status == "fail"
    facts = verdict.facts
    assert facts["expected"] == {"platforms": ["linux/amd64", "linux/s390x"], "digest": C}
    assert facts["found"] == {"platforms": ["linux/amd64", "linux/arm64"], "digest": A}
    assert (facts["endpoint"], facts["source"], facts["registry"], facts["hosts"]) == (
        "server https://r.site", "hosts.toml", "r.site", ["node1", "node3"])


def test_a_check_of_several_probes_lists_each_with_its_verdict():
    first, probe = file_check()
    other = UrlProbe(("http://other.site/kubeadm",), True, ProxySettings())
    plan = CheckPlan("runner", "files:kubeadm", first.parts + [Part(other, {"url": "http://other.site/kubeadm",
                                                                          "hosts": ["node3"]})])
    refused = errors.ConnectionRefused("file http://other.site/kubeadm: connection refused")
    verdict = judge(plan, {probe: ProbeResult([Attempt(URL, info={"status": 200, "method": "HEAD"})]),
                           other: ProbeResult([Attempt.failed("http://other.site/kubeadm", refused)])})
    assert verdict.status == "fail"
    assert verdict.facts["hosts"] == ["node3"] and verdict.facts["endpoint"] is None
    assert [(p["hosts"], p["verdict"]) for p in verdict.facts["probes"]] == [(["node1"], "pass"), (["node3"], "fail")]
