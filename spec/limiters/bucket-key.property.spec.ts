import { expect } from "chai";
import fc from "fast-check";
import { bucketKey } from "../../lib/limiters/bucket-key.js";
import { keySlot } from "../../lib/redis/key-slot.js";

/** CRC16/XMODEM, as Redis's cluster.c computes it. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** Redis's keyHashSlot() over the bytes Redis receives (the key as UTF-8): the reference the batcher must agree with. */
function redisSlot(key: string): number {
  const bytes = Buffer.from(key, "utf8");
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close !== -1 && close !== open + 1) return crc16(bytes.subarray(open + 1, close)) & 0x3fff;
  }
  return crc16(bytes) & 0x3fff;
}

/** Client ids as an unfriendly caller writes them: braces, NULs, lone surrogates, non-ASCII, mixed with plain text. */
const hostileId = fc.oneof(
  fc.string({ unit: fc.constantFrom("{", "}", "\u0000", "a", "b", " ", "~", "é", "\ud800", "\udc00", "😀", "\u007f"), maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.string({ maxLength: 12 }),
);

describe("bucketKey(prefix, id)", () => {
  it("keeps a printable-ASCII id without braces as it is: `${prefix}{${id}}`", () => {
    expect(bucketKey("rl:", "c1")).to.equal("rl:{c1}");
    expect(bucketKey("rl:", 42)).to.equal("rl:{42}");
    fc.assert(fc.property(fc.string({ maxLength: 20 }).filter((s) => /^[\x20-\x7a|~]*$/.test(s)), (id) => bucketKey("p:", id) === `p:{${id}}`));
  });

  it("gives a key whose slot cluster-key-slot (the batcher, ioredis) and Redis compute alike, for any id", () => {
    expect(redisSlot("rl:{}}")).to.not.equal(keySlot("rl:{}}")); // why ids are encoded: the two disagree on an empty tag
    fc.assert(fc.property(hostileId, (id) => keySlot(bucketKey("rpci:rl:", id)) === redisSlot(bucketKey("rpci:rl:", id))), { numRuns: 5000 });
  });

  it("gives two different ids two different keys", () => {
    fc.assert(fc.property(hostileId, hostileId, (a, b) => a === b || bucketKey("p:", a) !== bucketKey("p:", b)), { numRuns: 5000 });
    expect(bucketKey("p:", "}x")).to.not.equal(bucketKey("p:", "fQB4AA"));
  });
});
