"""WWW-Authenticate parsing and token answers, pure."""

import pytest

from kubespray_verify.registry.auth import Challenge, parse_www_authenticate, preferred, repository_scope, token_from_answer

CASES = {
    "distribution bearer": (
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
        [Challenge("bearer", {"realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:a/b:pull,push"})],
    ),
    "basic": ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
    "scheme case and spaces": (
        'BEARER  Realm = "r" , Service=svc',
        [Challenge("bearer", {"realm": "r", "service": "svc"})],
    ),
    "insufficient scope then basic": (
        'Bearer realm="x",error="insufficient_scope",scope="repository:p:pull", Basic realm="y"',
        [
            Challenge("bearer", {"realm": "x", "error": "insufficient_scope", "scope": "repository:p:pull"}),
            Challenge("basic", {"realm": "y"}),
        ],
    ),
    "token68 scheme": ("Negotiate abc==, Basic realm=x", [Challenge("negotiate", {}), Challenge("basic", {"realm": "x"})]),
    "escaped quote": ('Bearer realm="a\\"b"', [Challenge("bearer", {"realm": 'a"b'})]),
    "bare scheme": ("Basic", [Challenge("basic", {})]),
    "empty": ("", []),
}


@pytest.mark.parametrize("header, expected", CASES.values(), ids=CASES.keys())
def test_parse_www_authenticate(header, expected):
    assert parse_www_authenticate(header) == expected


def test_several_scopes_split_on_spaces():
    (challenge,) = parse_www_authenticate('Bearer realm="r",scope="repository:a:pull repository:b:pull"')
    assert challenge.scopes == ("repository:a:pull", "repository:b:pull")


@pytest.mark.parametrize(
    "header, scheme",
    [
        ('Basic realm="y", Bearer realm="x"', "bearer"),
        ('Basic realm="y"', "basic"),
        ("Bearer service=no-realm", None),  # a token service without realm cannot be asked
        ("Negotiate", None),
        ("", None),
    ],
)
def test_preferred(header, scheme):
    chosen = preferred(parse_www_authenticate(header))
    assert (chosen.scheme if chosen else None) == scheme


def test_repository_scope():
    assert repository_scope("library/pause") == "repository:library/pause:pull"
    assert repository_scope("x", "pull,push") == "repository:x:pull,push"


@pytest.mark.parametrize(
    "body, token",
    [
        (b'{"token":"t1","expires_in":300}', "t1"),
        (b'{"access_token":"t2"}', "t2"),
        (b'{"token":"t1","access_token":"t2"}', "t1"),
        (b'{"token":""}', None),
        (b"{}", None),
        (b"not json", None),
        (b'["t"]', None),
    ],
)
def test_token_from_answer(body, token):
    assert token_from_answer(body) == token
