import { expect } from "chai";
import { CallContext } from "../../lib/core/context.js";
import { defineService, router } from "../../lib/core/service.js";
import { Status } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";

function newCall(service: string, method: string, request: unknown = {}): CallContext {
  return new CallContext({ service, method, request, peer: "c1" });
}

/** The StatusError the route rejected with; fails the spec when it resolved. */
async function rejection(promise: Promise<void> | void): Promise<StatusError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(StatusError);
    return error as StatusError;
  }
  throw new Error("expected a rejection");
}

describe("router()", () => {
  const echo = defineService("Echo", { Say: (request) => ({ said: request }) });
  const math = defineService("Math", { Double: async (request) => 2 * Number(request) });

  it("dispatches to the method of the named service and sets the response", async () => {
    const route = router([echo, math]);
    const a = newCall("Echo", "Say", "hi");
    await route(a);
    expect(a.response).to.deep.equal({ said: "hi" });
    const b = newCall("Math", "Double", 21);
    await route(b);
    expect(b.response).to.equal(42);
  });

  it("rejects an unknown service or method with UNIMPLEMENTED, inherited names included", async () => {
    const route = router([echo]);
    for (const [service, method] of [["Nope", "Say"], ["Echo", "Shout"], ["Echo", "toString"], ["Echo", "constructor"]] as const) {
      // route() throws at once (it is synchronous where it can be); the pipeline takes either.
      expect((await rejection((async () => route(newCall(service, method)))())).code, `${service}/${method}`).to.equal(Status.UNIMPLEMENTED);
    }
  });

  it("refuses a service defined twice", () => {
    expect(() => router([echo, echo])).to.throw(TypeError, /defined twice/);
  });
});

describe("defineService()", () => {
  it("refuses an empty name and a method that is not a function", () => {
    expect(() => defineService("", {})).to.throw(TypeError, /non-empty/);
    expect(() => defineService("S", { M: "nope" as unknown as () => unknown })).to.throw(TypeError, /S\/M is not a function/);
  });
});
