#!/usr/bin/env python3
"""Writes python-json-random.json: json.dumps of 3,000 random JSON values, for the property spec.

Regenerate from the repository root with

    python3 spec/vectors/python-json-random.py > spec/vectors/python-json-random.json

The values come from a seeded generator (SEED below), so the file is reproducible. Each vector is
[input, python]: `input` is the value as compact JSON with ensure_ascii (so lone surrogates
survive the trip), which the spec parses with JSON.parse; `python` is json.dumps(value) with the
defaults bin/node must match byte for byte.

What is generated is what a JavaScript value can be, because lib/python-json.ts prints
JavaScript values (its documented limits):
  - integers within +-2**53, where every integer is a double, and beyond only those that are
    doubles (a 53-bit number times a power of two): JSON.parse rounds any other to the nearest
    double, which then prints as that double's value, not the digits Python read;
  - floats only when they are not integral: JavaScript has one number type, so 2.0 and 1e16
    are integers there and print as Python prints the int (2, 10000000000000000), not as
    Python prints the float (2.0, 1e+16); -0.0 is left out for the same reason;
  - no NaN or infinities (JSON cannot carry them; the hand-written vectors cover them);
  - no object keys that are array indices ("0", "17"): JavaScript enumerates those first,
    whatever the insertion order.
Everything else is fair game: every control character, quotes and backslashes, lone and
reversed surrogates, astral characters, U+2028/U+2029, U+007F, __proto__ and constructor keys,
floats from every binade, deep-ish nesting.
"""
import json
import math
import random
import struct
import sys

SEED = 20260507
COUNT = 3000

rng = random.Random(SEED)

SPECIAL_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "", "msg_id", "-1", "01", "1.5", "4294967295"]


def code_unit():
    """One character, biased towards the ones that need escaping or are easy to get wrong."""
    kind = rng.randrange(11)
    if kind <= 2:
        return chr(rng.randrange(0x20, 0x7F))                 # printable ASCII
    if kind == 3:
        return chr(rng.choice(list(range(0x20)) + [0x7F]))     # control characters
    if kind == 4:
        return rng.choice('"\\/\b\f\n\r\t')
    if kind == 5:
        return chr(rng.randrange(0x80, 0x800))                # two UTF-8 bytes
    if kind == 6:
        return chr(rng.choice([0x2028, 0x2029, 0xFEFF, 0xFFFD, 0xFFFE, 0xFFFF, 0x0800, 0xE000]))
    if kind == 7:
        return chr(rng.randrange(0x800, 0xD800))              # three UTF-8 bytes
    if kind == 8:
        return chr(rng.randrange(0xD800, 0xE000))             # a lone surrogate
    if kind == 9:
        return chr(rng.randrange(0x10000, 0x110000))          # astral: a surrogate pair in JS
    return chr(rng.randrange(0xE000, 0x10000))


def string(max_len=12):
    return "".join(code_unit() for _ in range(rng.randrange(max_len + 1)))


def is_array_index(key):
    return key.isascii() and key.isdigit() and (key == "0" or key[0] != "0") and int(key) < 2**32 - 1


def key():
    if rng.random() < 0.15:
        candidate = rng.choice(SPECIAL_KEYS)
    else:
        candidate = string(8)
    return key() if is_array_index(candidate) else candidate


def integer():
    if rng.random() < 0.2:
        # Beyond 2**53 only some integers are doubles: a 53-bit odd number shifted left is one.
        n = (rng.randrange(2**52) * 2 + 1) << rng.randrange(1, 80)
    else:
        bits = rng.randrange(54)
        n = rng.randrange(2**bits) if bits else 0
    return -n if rng.random() < 0.5 else n


def double():
    kind = rng.randrange(4)
    if kind == 0:      # any finite double: random bits
        x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
    elif kind == 1:    # short decimals, the common case
        x = round(rng.uniform(-1000, 1000), rng.randrange(1, 7))
    elif kind == 2:    # around the exponent-notation edges (1e-4 and 1e16)
        x = rng.choice([1, -1]) * rng.uniform(1, 10) * 10.0 ** rng.choice([-6, -5, -4, -3, 14, 15, 16, 17])
    else:              # any magnitude
        x = rng.choice([1, -1]) * rng.random() * 10.0 ** rng.randrange(-320, 300)
    if not math.isfinite(x) or x == int(x):
        return double()
    return x


def value(depth=0):
    kind = rng.randrange(10 if depth < 4 else 7)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind in (1, 2):
        return integer()
    if kind in (3, 4):
        return double()
    if kind in (5, 6):
        return string()
    if kind in (7, 8):
        return [value(depth + 1) for _ in range(rng.randrange(5))]
    obj = {}
    for _ in range(rng.randrange(5)):
        obj[key()] = value(depth + 1)
    return obj


def main():
    vectors = []
    for _ in range(COUNT):
        v = value()
        vectors.append([json.dumps(v, separators=(",", ":")), json.dumps(v)])
    out = {"generator": "spec/vectors/python-json-random.py", "python": sys.version.split()[0], "seed": SEED, "vectors": vectors}
    json.dump(out, sys.stdout, indent=0)
    sys.stdout.write("\n")


main()
