import { expect } from "chai";
import { Metadata } from "../../lib/core/metadata.js";

describe("Metadata.get()", () => {
  it("finds a key in any case", () => {
    const md = new Metadata({ Authorization: "Bearer t", "x-request-id": "r1" });
    expect(md.get("authorization")).to.equal("Bearer t");
    expect(md.get("AUTHORIZATION")).to.equal("Bearer t");
    expect(md.get("X-Request-Id")).to.equal("r1");
    expect(md.get("missing")).to.equal(undefined);
  });

  it("prefers the key already in lower case when two differ only by case, whatever their order", () => {
    expect(new Metadata({ AUTHORIZATION: "upper", authorization: "lower" }).get("Authorization")).to.equal("lower");
    expect(new Metadata({ authorization: "lower", Authorization: "mixed" }).get("AUTHORIZATION")).to.equal("lower");
  });

  it("takes the first of several keys none of which is lower case", () => {
    expect(new Metadata({ Authorization: "first", AUTHORIZATION: "second" }).get("authorization")).to.equal("first");
  });

  it("ignores values that are not strings", () => {
    const md = new Metadata({ authorization: 42, Authorization: ["Bearer t"], "x-ok": "yes" });
    expect(md.get("authorization")).to.equal(undefined);
    expect(md.has("authorization")).to.equal(false);
    expect(md.has("x-ok")).to.equal(true);
  });

  it("treats anything but a plain object as empty metadata", () => {
    for (const raw of [undefined, null, "authorization: Bearer t", 7, ["Bearer t"]]) {
      expect([...new Metadata(raw).entries()], JSON.stringify(raw) ?? "undefined").to.deep.equal([]);
    }
  });

  it("does not find inherited properties", () => {
    expect(new Metadata({}).get("constructor")).to.equal(undefined);
    expect(new Metadata({}).get("__proto__")).to.equal(undefined);
    const inherits = Object.create({ authorization: "Bearer inherited" }) as object;
    expect(new Metadata(inherits).get("authorization")).to.equal(undefined);
  });
});

describe("Metadata.set() / delete() / toObject()", () => {
  it("stores keys lower-cased and shows every entry lower-cased", () => {
    const md = new Metadata({ "X-Trace": "a" });
    md.set("X-Added", "b");
    expect(md.get("x-added")).to.equal("b");
    expect(md.toObject()).to.deep.equal({ "x-trace": "a", "x-added": "b" });
    expect([...md.entries()]).to.deep.equal([
      ["x-trace", "a"],
      ["x-added", "b"],
    ]);
  });

  it("deletes in any case and says whether the key was there", () => {
    const md = new Metadata({ Authorization: "Bearer t" });
    expect(md.delete("AUTHORIZATION")).to.equal(true);
    expect(md.get("authorization")).to.equal(undefined);
    expect(md.delete("authorization")).to.equal(false);
  });

  it("never changes the object it was built over", () => {
    const raw = { Authorization: "Bearer t" };
    const md = new Metadata(raw);
    md.set("x-new", "1");
    md.delete("authorization");
    expect(raw).to.deep.equal({ Authorization: "Bearer t" });
  });
});
