"""The CRI wire codec and crictl rendering of tests/cri.py, on hand-made messages.

What a real runtime sends is tested in test_runtimes.py (the recorded
ListImagesResponse) and test_runtimes_live.py (containerd's CRI, live).
"""

import json

import pytest

from tests.cri import (
    CRIError,
    Image,
    ImageSpec,
    _key,
    _len_field,
    _string_field,
    _varint,
    crictl_sort,
    decode_image,
    decode_list_images_response,
    encode_list_images_request,
    encode_pull_image_request,
    images_from_crictl_json,
    render_crictl_json,
)

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


def test_requests_are_what_crictl_sends():
    # ListImagesRequest{filter: ImageFilter{image: ImageSpec{}}}: the empty ImageSpec is still there.
    assert encode_list_images_request() == bytes([0x0A, 0x02, 0x0A, 0x00])
    # PullImageRequest{image: ImageSpec{image: "r.io/x:1"}}
    assert encode_pull_image_request("r.io/x:1") == b"\x0a\x0a\x0a\x08r.io/x:1"


def image_bytes(uid: int) -> bytes:
    return (
        _string_field(1, A)
        + _string_field(2, "r.io/x:1")
        + _string_field(2, "r.io/y:1")
        + _string_field(3, f"r.io/x@{B}")
        + _key(4, 0)
        + _varint(2**40)
        + _len_field(5, _key(1, 0) + _varint(uid))
        + _string_field(6, "")
        + _len_field(7, _string_field(1, "r.io/x:1") + _len_field(2, _string_field(1, "k") + _string_field(2, "v")))
        + _key(8, 0)
        + _varint(1)
        + _string_field(99, "from a newer runtime")
    )


def test_image_decodes_every_field():
    image = decode_image(image_bytes(-1))
    assert image == Image(
        id=A,
        repo_tags=["r.io/x:1", "r.io/y:1"],
        repo_digests=[f"r.io/x@{B}"],
        size=2**40,
        uid=-1,  # int64 on the wire as ten bytes
        username="",
        spec=ImageSpec(image="r.io/x:1", annotations={"k": "v"}),
        pinned=True,
        unknown_fields=[99],
    )


def test_uid_zero_is_set_not_absent():
    """An Int64Value holding 0 is an empty message: present, so crictl prints {"value": "0"}."""
    assert decode_image(_len_field(5, b"")).uid == 0
    assert decode_image(b"").uid is None


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x0a\x05ab", "past the end"),
        (b"\x20\xff", "truncated varint"),
        (b"\x0b", "groups"),
        (b"\x08\x01", "wire type 0"),  # id (a string) sent as a varint
    ],
)
def test_bad_messages_are_refused(data, message):
    with pytest.raises(CRIError, match=message):
        decode_image(data)


def test_rendering_of_set_messages_and_maps():
    """uid and spec set, an annotation map: jsonpb's layout, and the JSON reads back to the same image."""
    (image,) = decode_list_images_response(_len_field(1, image_bytes(1000)))
    text = render_crictl_json([image])
    assert '      "uid": {\n        "value": "1000"\n      },\n' in text
    assert '"annotations": {\n          "k": "v"\n        }\n' in text
    assert '"size": "1099511627776"' in text
    back = images_from_crictl_json(text)[0]
    back.unknown_fields = [99]
    assert back == image


def test_rendering_escapes_as_go_does():
    text = render_crictl_json([Image(id=A, username="a<b>&\"c\"")])
    assert r'"username": "a\u003cb\u003e\u0026\"c\""' in text
    assert json.loads(text)["images"][0]["username"] == 'a<b>&"c"'


def test_crictl_sort_is_go_insertion_sort():
    """Tagged images by first tag; an untagged one compares to a tagged one by ID, so it lands where insertion leaves it."""
    tagged_b = Image(id="sha256:3", repo_tags=["b:1"])
    tagged_a = Image(id="sha256:9", repo_tags=["a:1"])
    untagged = Image(id="sha256:5")
    # Go: [b, untagged, a] -> untagged vs b: 5 < 3 no; a vs untagged: 9 < 5 no -> unchanged.
    assert crictl_sort([tagged_b, untagged, tagged_a]) == [tagged_b, untagged, tagged_a]
    assert crictl_sort([tagged_b, tagged_a, untagged]) == [tagged_a, tagged_b, untagged]


def test_current_crictl_layout():
    text = render_crictl_json([Image(id=A)], style="protojson")
    assert json.loads(text) == {
        "images": [{"id": A, "repoTags": [], "repoDigests": [], "size": "0", "username": "", "pinned": False}]
    }
