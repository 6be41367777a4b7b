"""The CRI image service, spoken as crictl speaks it, and crictl's `images -o json` rendering.

crictl cannot be installed here, but the service it talks to can run:
containerd's CRI plugin answers `runtime.v1.ImageService` on containerd's
own socket, the same API cri-o serves. This module calls it with grpcio's
generic calls (bytes in, bytes out) and a small protobuf wire codec for the
few messages needed, then renders the ListImagesResponse the way crictl
prints it. The pure parts (codec, rendering) need nothing installed;
`CRIClient` needs grpcio (`pip install -e '.[test]'`).

Field numbers are those of the CRI's api.proto (k8s.io/cri-api, package
runtime.v1; read in kubernetes/kubernetes
staging/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto):

    ImageSpec          image=1 annotations=2 (map<string,string>)
                       user_specified_image=18 runtime_handler=19 image_ref=20
    ImageFilter        image=1 (ImageSpec)
    ListImagesRequest  filter=1 (ImageFilter)
    ListImagesResponse images=1 (repeated Image)
    Image              id=1 repo_tags=2 repo_digests=3 size=4 (uint64)
                       uid=5 (Int64Value) username=6 spec=7 (ImageSpec) pinned=8
    Int64Value         value=1 (int64)
    PullImageRequest   image=1 (ImageSpec) auth=2 sandbox_config=3
    PullImageResponse  image_ref=1
    RemoveImageRequest image=1 (ImageSpec)
    VersionRequest     version=1
    VersionResponse    version=1 runtime_name=2 runtime_version=3 runtime_api_version=4

crictl's JSON (cri-tools, cmd/crictl): `crictl images` sorts the images
(`imageByRef`), then `-o json` marshals the whole ListImagesResponse.
crictl releases built on golang/protobuf used `jsonpb.Marshaler{EmitDefaults:
true, Indent: "  "}`: every field of the proto crictl was built with, unset
messages as `null`, empty lists as `[` newline `]`, 64-bit integers as
strings. That is what both public samples in tests/data/runtimes/crictl/
show, and `render_crictl_json` reproduces them byte for byte (see
tests/test_runtimes.py). Current cri-tools uses `protojson.MarshalOptions
{EmitDefaultValues: true, Indent: "  "}` instead: unset messages (uid, spec)
left out, empty lists as `[]`; protojson also puts one or two spaces after
each colon, chosen per build, so that layout is never byte-stable. Both are
the same JSON document to a JSON reader; `style="protojson"` renders the
second, with one space.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Iterator, Optional

IMAGE_SERVICE = "/runtime.v1.ImageService"
RUNTIME_SERVICE = "/runtime.v1.RuntimeService"

# Fields of runtime.v1.Image, in declaration order, as (number, JSON name).
IMAGE_FIELDS = (
    (1, "id"),
    (2, "repoTags"),
    (3, "repoDigests"),
    (4, "size"),
    (5, "uid"),
    (6, "username"),
    (7, "spec"),
    (8, "pinned"),
)
IMAGE_SPEC_FIELDS = ((1, "image"), (2, "annotations"), (18, "userSpecifiedImage"), (19, "runtimeHandler"), (20, "imageRef"))


class CRIError(RuntimeError):
    """A CRI call failed (the message carries the gRPC status), or an answer did not decode."""


# -- messages ----------------------------------------------------------------------


@dataclass
class ImageSpec:
    image: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    user_specified_image: str = ""
    runtime_handler: str = ""
    image_ref: str = ""


@dataclass
class Image:
    """runtime.v1.Image. `uid` None is an unset Int64Value; `spec` None an unset ImageSpec."""

    id: str = ""
    repo_tags: list[str] = field(default_factory=list)
    repo_digests: list[str] = field(default_factory=list)
    size: int = 0
    uid: Optional[int] = None
    username: str = ""
    spec: Optional[ImageSpec] = None
    pinned: bool = False
    unknown_fields: list[int] = field(default_factory=list)  # numbers this codec does not know


# -- protobuf wire format ------------------------------------------------------------

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5


def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # negative int64: ten bytes, two's complement
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _len_field(number: int, payload: bytes) -> bytes:
    return _key(number, LEN) + _varint(len(payload)) + payload


def _string_field(number: int, value: str) -> bytes:
    """A proto3 string field: nothing at all when empty."""
    return _len_field(number, value.encode()) if value else b""


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise CRIError("protobuf: truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise CRIError("protobuf: varint longer than ten bytes")


def fields(buf: bytes) -> Iterator[tuple[int, int, object]]:
    """(number, wire type, value) for each field of one message: an int, or bytes for LEN."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise CRIError("protobuf: field number 0")
        if wire_type == VARINT:
            value, pos = _read_varint(buf, pos)
        elif wire_type == FIXED64:
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        elif wire_type == FIXED32:
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        elif wire_type == LEN:
            length, pos = _read_varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        else:
            raise CRIError(f"protobuf: wire type {wire_type} (groups) in field {number}")
        if pos > len(buf):
            raise CRIError(f"protobuf: field {number} runs past the end of the message")
        yield number, wire_type, value


def _expect(number: int, wire_type: int, want: int, message: str) -> None:
    if wire_type != want:
        raise CRIError(f"protobuf: {message} field {number} has wire type {wire_type}, expected {want}")


def _text(value: object) -> str:
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CRIError(f"protobuf: string field is not UTF-8: {exc}") from None


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


# -- requests ----------------------------------------------------------------------------


def encode_image_spec(image: str, annotations: Optional[dict[str, str]] = None) -> bytes:
    entries = b"".join(
        _len_field(2, _string_field(1, k) + _string_field(2, v)) for k, v in sorted((annotations or {}).items())
    )
    return _string_field(1, image) + entries


def encode_list_images_request(image: str = "") -> bytes:
    """What `crictl images [REF]` sends: a filter whose ImageSpec is present even when empty."""
    return _len_field(1, _len_field(1, encode_image_spec(image)))


def encode_pull_image_request(image: str) -> bytes:
    """What `crictl pull IMAGE` sends without credentials or a pod config."""
    return _len_field(1, encode_image_spec(image))


def encode_remove_image_request(image: str) -> bytes:
    return _len_field(1, encode_image_spec(image))


def encode_version_request(version: str) -> bytes:
    return _string_field(1, version)


# -- responses -----------------------------------------------------------------------------


def decode_image_spec(buf: bytes) -> ImageSpec:
    spec = ImageSpec()
    names = {1: "image", 18: "user_specified_image", 19: "runtime_handler", 20: "image_ref"}
    for number, wire_type, value in fields(buf):
        if number in names:
            _expect(number, wire_type, LEN, "ImageSpec")
            setattr(spec, names[number], _text(value))
        elif number == 2:
            _expect(number, wire_type, LEN, "ImageSpec")
            entry = {n: _text(v) for n, wt, v in fields(value) if wt == LEN}
            spec.annotations[entry.get(1, "")] = entry.get(2, "")
    return spec


def decode_image(buf: bytes) -> Image:
    image = Image()
    for number, wire_type, value in fields(buf):
        if number == 1:
            _expect(number, wire_type, LEN, "Image")
            image.id = _text(value)
        elif number == 2:
            _expect(number, wire_type, LEN, "Image")
            image.repo_tags.append(_text(value))
        elif number == 3:
            _expect(number, wire_type, LEN, "Image")
            image.repo_digests.append(_text(value))
        elif number == 4:
            _expect(number, wire_type, VARINT, "Image")
            image.size = value
        elif number == 5:
            _expect(number, wire_type, LEN, "Image")
            image.uid = 0
            for n, wt, v in fields(value):
                if n == 1:
                    _expect(n, wt, VARINT, "Int64Value")
                    image.uid = _int64(v)
        elif number == 6:
            _expect(number, wire_type, LEN, "Image")
            image.username = _text(value)
        elif number == 7:
            _expect(number, wire_type, LEN, "Image")
            image.spec = decode_image_spec(value)
        elif number == 8:
            _expect(number, wire_type, VARINT, "Image")
            image.pinned = bool(value)
        else:
            image.unknown_fields.append(number)
    return image


def decode_list_images_response(buf: bytes) -> list[Image]:
    images = []
    for number, wire_type, value in fields(buf):
        if number == 1:
            _expect(number, wire_type, LEN, "ListImagesResponse")
            images.append(decode_image(value))
    return images


def decode_pull_image_response(buf: bytes) -> str:
    """PullImageResponse.image_ref."""
    ref = ""
    for number, wire_type, value in fields(buf):
        if number == 1 and wire_type == LEN:
            ref = _text(value)
    return ref


def decode_version_response(buf: bytes) -> dict[str, str]:
    names = {1: "version", 2: "runtime_name", 3: "runtime_version", 4: "runtime_api_version"}
    return {names[n]: _text(v) for n, wt, v in fields(buf) if n in names and wt == LEN}


# -- crictl's rendering ----------------------------------------------------------------------


def _image_less(a: Image, b: Image) -> bool:
    """cri-tools' imageByRef.Less."""
    if a.repo_tags and b.repo_tags:
        return a.repo_tags[0] < b.repo_tags[0]
    if a.repo_digests and b.repo_digests:
        return a.repo_digests[0] < b.repo_digests[0]
    return a.id < b.id


def crictl_sort(images: list[Image]) -> list[Image]:
    """The order `crictl images` prints: Go's sort.Sort with imageByRef.

    imageByRef is not a total order when tagged and untagged images mix, so
    the result depends on the order the runtime listed them in (containerd's
    is not fixed) and on the algorithm. Since Go 1.19, sort.Sort sorts 12
    elements or fewer by plain insertion sort, done here exactly (Go before
    1.19 made a gap-6 pass first). Longer lists take Go's pdqsort, not
    reproduced: they get a stable sort by the same comparison, which agrees
    with Go whenever the comparison orders them (as in both public samples).
    """
    out = list(images)
    if len(out) <= 12:
        for i in range(1, len(out)):
            j = i
            while j > 0 and _image_less(out[j], out[j - 1]):
                out[j], out[j - 1] = out[j - 1], out[j]
                j -= 1
        return out
    return sorted(out, key=functools.cmp_to_key(lambda a, b: -1 if _image_less(a, b) else (1 if _image_less(b, a) else 0)))


def _go_json_string(s: str) -> str:
    """A string as Go's encoding/json writes it (what jsonpb used): HTML characters escaped too."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ch in "<>&\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _jsonpb(value, indent: str) -> str:
    """jsonpb's marshalValue with EmitDefaults and Indent "  " for values already in JSON terms.

    dict: a message (an ordered list of (name, value) pairs) or a map; list:
    a repeated field; None: an unset message; str/bool; ("int64", n): a
    64-bit integer, quoted.
    """
    step = "  "
    if value is None:
        return "null"
    if isinstance(value, tuple):
        return f'"{value[1]}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _go_json_string(value)
    if isinstance(value, list):  # repeated: `[`, each item on its own line, `]` on its own line even when empty
        items = [f"\n{indent}{step}{step}{_jsonpb(item, indent + step)}" for item in value]
        return "[" + ",".join(items) + f"\n{indent}{step}]"
    if isinstance(value, Message):  # a message: marshalObject one level deeper
        inner = indent + step
        body = ",\n".join(f'{inner}{step}"{name}": {_jsonpb(v, inner)}' for name, v in value.pairs)
        return "{\n" + body + f"\n{inner}}}"
    if isinstance(value, dict):  # a map: sorted keys
        items = [f"\n{indent}{step}{step}{_go_json_string(k)}: {_jsonpb(v, indent + step)}" for k, v in sorted(value.items())]
        return "{" + ",".join(items) + f"\n{indent}{step}}}"
    raise TypeError(f"cannot render {value!r}")


@dataclass
class Message:
    pairs: list[tuple[str, object]]


def _spec_message(spec: ImageSpec, spec_fields: int) -> Message:
    values = {
        "image": spec.image,
        "annotations": dict(spec.annotations),
        "userSpecifiedImage": spec.user_specified_image,
        "runtimeHandler": spec.runtime_handler,
        "imageRef": spec.image_ref,
    }
    return Message([(name, values[name]) for number, name in IMAGE_SPEC_FIELDS if number <= spec_fields])


def _image_message(image: Image, image_fields: int, spec_fields: int) -> Message:
    values = {
        "id": image.id,
        "repoTags": list(image.repo_tags),
        "repoDigests": list(image.repo_digests),
        "size": ("uint64", image.size),
        "uid": None if image.uid is None else Message([("value", ("int64", image.uid))]),
        "username": image.username,
        "spec": None if image.spec is None else _spec_message(image.spec, spec_fields),
        "pinned": image.pinned,
    }
    return Message([(name, values[name]) for number, name in IMAGE_FIELDS if number <= image_fields])


def render_crictl_json(
    images: list[Image],
    *,
    style: str = "jsonpb",
    image_fields: int = 8,
    spec_fields: int = 2,
    sort: bool = True,
) -> str:
    """What `crictl images -o json` prints for this ListImagesResponse (with its final newline).

    style "jsonpb": crictl built on golang/protobuf, as in both public
    samples. `image_fields` / `spec_fields` are the highest Image / ImageSpec
    field numbers the proto crictl was built with knew (the IBM Cloud sample's
    crictl predates `spec` and `pinned`: image_fields=6; the kind sample's
    knows 1-8 and an ImageSpec of image and annotations). style "protojson":
    current cri-tools (EmitDefaultValues), one space after each colon.
    """
    ordered = crictl_sort(images) if sort else list(images)
    if style == "jsonpb":
        top = Message([("images", [_image_message(i, image_fields, spec_fields) for i in ordered])])
        return _jsonpb_top(top) + "\n"
    if style == "protojson":
        return json.dumps({"images": [_protojson_image(i, image_fields, spec_fields) for i in ordered]}, indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown style {style!r}")


def _jsonpb_top(top: Message) -> str:
    """marshalObject at the top level: fields indented once, closing brace in column 0."""
    body = ",\n".join(f'  "{name}": {_jsonpb(v, "")}' for name, v in top.pairs)
    return "{\n" + body + "\n}"


def _protojson_image(image: Image, image_fields: int, spec_fields: int) -> dict:
    out = {}
    for number, name in IMAGE_FIELDS:
        if number > image_fields:
            continue
        if name == "uid":
            if image.uid is not None:
                out["uid"] = {"value": str(image.uid)}
        elif name == "spec":
            if image.spec is not None:
                spec = _spec_message(image.spec, spec_fields)
                out["spec"] = {k: v for k, v in spec.pairs}
        elif name == "size":
            out["size"] = str(image.size)
        else:
            out[name] = {"id": image.id, "repoTags": image.repo_tags, "repoDigests": image.repo_digests,
                         "username": image.username, "pinned": image.pinned}[name]
    return out


def images_from_crictl_json(text: str) -> list[Image]:
    """The messages behind a crictl JSON listing (for rendering a sample again): the inverse of the rendering."""
    images = []
    for entry in json.loads(text)["images"]:
        spec = entry.get("spec")
        images.append(
            Image(
                id=entry.get("id", ""),
                repo_tags=list(entry.get("repoTags") or []),
                repo_digests=list(entry.get("repoDigests") or []),
                size=int(entry.get("size", "0")),
                uid=None if entry.get("uid") is None else int(entry["uid"].get("value", "0")),
                username=entry.get("username", ""),
                spec=None
                if spec is None
                else ImageSpec(
                    image=spec.get("image", ""),
                    annotations=dict(spec.get("annotations") or {}),
                    user_specified_image=spec.get("userSpecifiedImage", ""),
                    runtime_handler=spec.get("runtimeHandler", ""),
                    image_ref=spec.get("imageRef", ""),
                ),
                pinned=bool(entry.get("pinned", False)),
            )
        )
    return images


# -- the client ------------------------------------------------------------------------------


class CRIClient:
    """runtime.v1 ImageService (and RuntimeService.Version) over a unix socket, with grpcio.

    `with CRIClient("/run/containerd/containerd.sock") as cri: cri.pull_image(ref)`.
    """

    def __init__(self, socket_path: str, timeout: float = 120.0) -> None:
        try:
            import grpc
        except ImportError as exc:
            raise CRIError("grpcio is not installed (pip install -e '.[test]')") from exc
        self._grpc = grpc
        self.timeout = timeout
        # No proxy for a unix socket, whatever the environment says.
        self.channel = grpc.insecure_channel(f"unix://{socket_path}", options=[("grpc.enable_http_proxy", 0)])

    def __enter__(self) -> "CRIClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def call(self, method: str, request: bytes, timeout: Optional[float] = None) -> bytes:
        """One unary call, request and response as raw protobuf bytes."""
        identity = lambda b: b  # noqa: E731
        stub = self.channel.unary_unary(method, request_serializer=identity, response_deserializer=identity)
        try:
            return stub(request, timeout=timeout or self.timeout)
        except self._grpc.RpcError as exc:
            raise CRIError(f"{method}: {exc.code().name}: {exc.details()}") from None

    def version(self, api_version: str = "v1") -> dict[str, str]:
        return decode_version_response(self.call(f"{RUNTIME_SERVICE}/Version", encode_version_request(api_version)))

    def list_images_raw(self, image: str = "") -> bytes:
        """The ListImagesResponse exactly as the runtime sent it."""
        return self.call(f"{IMAGE_SERVICE}/ListImages", encode_list_images_request(image))

    def list_images(self, image: str = "") -> list[Image]:
        return decode_list_images_response(self.list_images_raw(image))

    def pull_image(self, image: str) -> str:
        """PullImage; returns the runtime's image_ref."""
        return decode_pull_image_response(self.call(f"{IMAGE_SERVICE}/PullImage", encode_pull_image_request(image)))

    def remove_image(self, image: str) -> None:
        self.call(f"{IMAGE_SERVICE}/RemoveImage", encode_remove_image_request(image))

    def wait_ready(self, seconds: float = 30.0) -> None:
        """Until the channel connects (the runtime's socket answers)."""
        try:
            self._grpc.channel_ready_future(self.channel).result(timeout=seconds)
        except self._grpc.FutureTimeoutError:
            raise CRIError(f"the CRI socket did not answer in {seconds:.0f} s") from None
