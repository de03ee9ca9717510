"""A second independent gRPC client for the interop spec: Python's grpcio (Debian's python3-grpcio),
no generated code, no protobuf runtime: requests are encoded by hand (field 1 and 2 of GetRequest
and PutRequest are length-delimited strings). Prints one JSON line per call:
{"call", "code", "details", "trailers"} with the trailers' text values and the names of binary ones."""
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


main(sys.argv[1])
