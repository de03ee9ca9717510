"""A second independent gRPC client for the interop spec: Python's grpcio (Debian's python3-grpcio),
no generated code, no protobuf runtime: requests are encoded by hand (field 1 and 2 of GetRequest
and PutRequest are length-delimited strings). Prints one JSON line per call:
{"call", "code", "details", "trailers"} with the trailers' text values and the names of binary ones.
With `scan PREFIX LIMIT` after the target: one Scan, one JSON line per Entry ({"key", "value"}),
then {"status"}."""
import json
import sys

import grpc


def field(number, text):
    data = text.encode("utf-8")
    out = bytes([(number << 3) | 2])
    n = len(data)
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n]) + data


def varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def decode_strings(data):
    """The length-delimited fields of a message as {number: text} (Entry: 1 key, 2 value)."""
    fields, i = {}, 0
    while i < len(data):
        tag, i = data[i], i + 1
        n, shift = 0, 0
        while True:
            byte, i = data[i], i + 1
            n |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        fields[tag >> 3] = data[i:i + n].decode("utf-8")
        i += n
    return fields


def scan(target, prefix, limit):
    channel = grpc.insecure_channel(target)
    identity = lambda b: b
    method = channel.unary_stream("/keyvalue.v1.KeyValue/Scan", request_serializer=identity, response_deserializer=identity)
    request = field(1, prefix) + (bytes([2 << 3]) + varint(limit) if limit else b"")
    try:
        for entry in method(request, metadata=(("authorization", "Bearer valid_token"),), timeout=5):
            fields = decode_strings(entry)
            print(json.dumps({"key": fields.get(1, ""), "value": fields.get(2, "")}, ensure_ascii=False), flush=True)
        print(json.dumps({"status": "OK"}), flush=True)
    except grpc.RpcError as error:
        print(json.dumps({"status": error.code().name, "details": error.details()}), flush=True)
    channel.close()


def main(target):
    channel = grpc.insecure_channel(target)
    identity = lambda b: b
    get = channel.unary_unary("/keyvalue.v1.KeyValue/Get", request_serializer=identity, response_deserializer=identity)
    put = channel.unary_unary("/keyvalue.v1.KeyValue/Put", request_serializer=identity, response_deserializer=identity)
    token = (("authorization", "Bearer valid_token"),)
    calls = [
        ("put", put, field(1, "py") + field(2, "from python"), token),
        ("get", get, field(1, "py"), token),
        ("get-missing", get, field(1, "missing"), token),
        ("get-anonymous", get, field(1, "py"), ()),
        ("get-3", get, field(1, "py"), token),
        ("get-4", get, field(1, "py"), token),
    ]
    for name, method, request, metadata in calls:
        try:
            response, call = method.with_call(request, metadata=metadata, timeout=5)
            line = {"call": name, "code": "OK", "response_has_key": b"py" in response, "trailers": {}}
        except grpc.RpcError as error:
            trailers = {}
            for key, value in error.trailing_metadata() or ():
                trailers[key] = value if isinstance(value, str) else "<%d bytes>" % len(value)
            line = {"call": name, "code": error.code().name, "details": error.details(), "trailers": trailers}
        print(json.dumps(line), flush=True)
    channel.close()


if len(sys.argv) > 2 and sys.argv[2] == "scan":
    scan(sys.argv[1], sys.argv[3], int(sys.argv[4]))
else:
    main(sys.argv[1])
