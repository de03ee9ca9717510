import { readFileSync } from "node:fs";
import { expect } from "chai";
import fc from "fast-check";
import { dumps, quote } from "../../../lib/hosts/stdio/python-json.js";

/**
 * Properties of dumps(): against Python itself on 3,000 random values (vectors written once by
 * spec/vectors/python-json-random.py, which says what it generates and why), and, without
 * Python, on whatever fast-check generates.
 */
interface RandomVectors {
  readonly python: string;
  readonly seed: number;
  readonly vectors: readonly (readonly [input: string, python: string])[];
}

const file = new URL("../../../../spec/vectors/python-json-random.json", import.meta.url);
const random = JSON.parse(readFileSync(file, "utf8")) as RandomVectors;

/** Any UTF-16 code unit, lone surrogates included: what a JSON string can hold after JSON.parse. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const anyString = fc.oneof(fc.string({ unit: codeUnit }), fc.string({ unit: "binary" }), fc.string());
const jsonValue = fc.jsonValue({ stringUnit: fc.oneof(codeUnit, fc.string({ unit: "binary", maxLength: 1 })), maxDepth: 5 });

/**
 * An independent printer for strings: JSON.stringify (well-formed since ES2019: lone surrogates
 * as \udxxx) with what Python's ensure_ascii adds, every code unit from U+007F up escaped.
 */
function referenceQuote(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** -0 prints as 0 (an integral number, see the limits in lib/hosts/stdio/python-json.ts); compare it as 0. */
function withoutNegativeZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(withoutNegativeZero);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) Object.defineProperty(out, key, { value: withoutNegativeZero((value as Record<string, unknown>)[key]), enumerable: true });
    return out;
  }
  return value;
}

describe("dumps() (properties)", () => {
  it(`prints ${random.vectors.length} random values byte for byte as Python ${random.python}'s json.dumps (seed ${random.seed})`, () => {
    expect(random.vectors.length).to.be.at.least(3000);
    const mismatches: string[] = [];
    for (const [input, python] of random.vectors) {
      const ours = dumps(JSON.parse(input));
      if (ours !== python) mismatches.push(`python: ${python}\nours:   ${ours}`);
    }
    expect(mismatches.slice(0, 3).join("\n\n"), `${mismatches.length} mismatches`).to.equal("");
  });

  it("prints any JSON value as text JSON.parse reads back to the same value", () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        expect(JSON.parse(dumps(value))).to.deep.equal(withoutNegativeZero(value));
      }),
      { numRuns: 2000 },
    );
  });

  it("prints only printable ASCII, whatever the strings hold", () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        expect(dumps(value)).to.match(/^[\x20-\x7e]*$/);
      }),
      { numRuns: 2000 },
    );
  });

  it("quotes any string, lone surrogates included, as JSON.stringify does plus ensure_ascii's escapes", () => {
    fc.assert(
      fc.property(anyString, (s) => {
        expect(quote(s)).to.equal(referenceQuote(s));
      }),
      { numRuns: 5000 },
    );
  });

  it("prints a non-integral double as Python's repr(float): shortest round trip, exponent form below 1e-4", () => {
    const fraction = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n));
    fc.assert(
      fc.property(fraction, (n) => {
        const text = dumps(n);
        expect(Number(text)).to.equal(n);
        const magnitude = Math.abs(n);
        if (magnitude < 1e-4) expect(text).to.match(/^-?\d(\.\d+)?e-\d\d+$/);
        else expect(text).to.match(/^-?\d+\.\d+$/);
        // Python's repr has the shortest digits that read back, as JavaScript's String(n) has.
        const digits = (t: string): string => t.replace(/e.*$/, "").replace(/[-.]/g, "").replace(/^0+|0+$/g, "");
        expect(digits(text)).to.equal(digits(String(n)));
      }),
      { numRuns: 5000 },
    );
  });

  it("prints an integer of any size as its digits", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), (big) => {
        const n = Number(big);
        expect(dumps(n)).to.equal(BigInt(n).toString());
        expect(dumps(big)).to.equal(big.toString());
      }),
      { numRuns: 2000 },
    );
  });
});
