// A REDIS_URL with a typo is exactly when its password would land in a CI log: what this pins
// is that no config error, whatever the form of the mistake, quotes the password.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { ConfigError, loadConfig } from "../../lib/app/config.js";
import { BIN_NODE } from "../support/node-process.js";

const PASSWORD = "pw-5ecret-91d4";
/** A wrong scheme, a port out of range, a missing colon, an unclosed IPv6 bracket, and a credential in the query. */
const MALFORMED = [
  `reddis://:${PASSWORD}@host:6379`,
  `redis://:${PASSWORD}@h:99999`,
  `redis//:${PASSWORD}@h:1`,
  `redis://:${PASSWORD}@[::1:6379`,
  `redis://user:${PASSWORD}@[::1`,
  `http://h:6379/?password=${PASSWORD}`,
];

function configError(argv: string[], env: Record<string, string>): string {
  try {
    loadConfig(argv, env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("no ConfigError");
}

describe("regression: a malformed REDIS_URL never prints its password", () => {
  for (const url of MALFORMED) {
    it(`loadConfig() refuses ${url.replace(PASSWORD, "<password>")} without quoting the password (variable, flag, stray argument)`, () => {
      for (const [argv, env] of [[[], { REDIS_URL: url }], [["--redis-url", url], {}], [[`--redis-url=${url}`], {}], [["--redis-url=", url], {}]] as const) {
        const message = configError([...argv], env);
        expect(message, JSON.stringify(argv)).to.not.contain(PASSWORD);
        expect(message).to.match(/REDIS_URL|--redis-url|Unexpected argument/);
      }
    });
  }

  it("bin/node exits 2 with a config error on stderr that holds none of the passwords", () => {
    for (const url of MALFORMED) {
      const run = spawnSync(process.execPath, [BIN_NODE], { env: { PATH: process.env["PATH"] ?? "", REDIS_URL: url }, input: "", encoding: "utf8" });
      expect(run.status, url).to.equal(2);
      expect(run.stderr).to.match(/^bin\/node: /);
      expect(run.stderr + run.stdout).to.not.contain(PASSWORD);
    }
  });
});
