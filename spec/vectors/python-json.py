#!/usr/bin/env python3
"""Writes python-json.json: what Python's json.dumps prints for values that are hard to print.

Regenerate from the repository root with

    python3 spec/vectors/python-json.py > spec/vectors/python-json.json

Each vector has
  - "name":   what it exercises;
  - "input":  the value as compact JSON (ensure_ascii escapes, so lone surrogates survive the
              trip), which the spec parses with JSON.parse to get the JavaScript value;
  - "python": json.dumps(value) with the defaults bin/node must match byte for byte.
Vectors in "literal" have no "input": the spec builds their value in code (NaN and the
infinities, which JSON cannot carry).

Numbers: JSON.parse gives JavaScript one number type, so an integral value prints as an integer
(see lib/python-json.ts). The large "integers" are therefore Python ints; every float here is
one JavaScript holds as a non-integer.
"""
import json
import sys

CONTROL = "".join(chr(c) for c in range(0x20)) + "\x7f"

VECTORS = [
    ("plain ASCII", "hello, world"),
    ("empty string", ""),
    ("quotes, backslashes and a slash", 'say "hi" \\ back\\slash / \\"both\\"'),
    ("every control character 0x00-0x1f and 0x7f in one string", CONTROL),
    ("each control character alone", [chr(c) for c in range(0x20)] + ["\x7f"]),
    ("printable ASCII edges", " ~!#[]{}"),
    ("Latin-1 and Latin Extended", "caf\u00e9 na\u00efve \u00ff\u0100\u017f"),
    ("two- and three-byte UTF-8 edges", "\u0080\u07ff\u0800\ufffd\uffff"),
    ("line and paragraph separators", "a\u2028b\u2029c"),
    ("CJK", "\u65e5\u672c\u8a9e"),
    ("astral characters as surrogate pairs", "\U0001f600 \U0001d11e \U00010000 \U0010ffff"),
    ("lone high surrogate", "\ud800"),
    ("lone low surrogate", "\udfff"),
    ("lone surrogates between ASCII", "a\ud83db\ude00c"),
    ("surrogates in the wrong order", "\ude00\ud83d"),
    ("everything at once", 'x\u00e9"\\\n\t\U0001f600\ud800\x00\x7f/'),
    ("keys that need escaping", {"k\u00e9\"y\n": 1, "\U0001f600": "v", "": ""}),
    ("nested objects and arrays", {"a": [1, {"b": None, "c": [True, False]}], "d": {}, "e": [], "f": {"g": {"h": [[], [{}]]}}}),
    ("empty object", {}),
    ("empty array", []),
    ("booleans and null", [True, False, None]),
    ("integers", [0, -1, 1, 42, -42, 2**31, 2**53, -(2**53)]),
    ("integers from 1e16 up (Python ints)", [10**16, 10**21, 10**22]),
    ("floats in plain notation", [0.5, -0.5, 0.1, 123.456, 0.0001, 1000000000000000.5, 123456789012345.67, 1 / 3, 0.1 + 0.2]),
    ("floats in exponent notation", [1e-05, -1e-05, 1.5e-07, 2.5e-10, 1.2345e-100, 5e-324, 2.2250738585072014e-308]),
    ("a grpc_call_ok reply", {"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": 2, "status": "OK",
        "interceptors_applied": ["logging", "auth", "rate_limit"], "response": {"key": "k\u00e9", "value": "\U0001f600", "found": True}, "msg_id": 1}}),
]

LITERAL = [
    ("NaN and the infinities", [float("nan"), float("inf"), float("-inf")]),
]


def main():
    out = {
        "generator": "spec/vectors/python-json.py",
        "python": sys.version.split()[0],
        "vectors": [{"name": n, "input": json.dumps(v, separators=(",", ":")), "python": json.dumps(v)} for n, v in VECTORS],
        "literal": [{"name": n, "python": json.dumps(v)} for n, v in LITERAL],
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


main()
