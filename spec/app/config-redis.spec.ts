import { expect } from "chai";
import { ConfigError, helpText, loadConfig, type NodeConfig } from "../../lib/app/config.js";

const load = (argv: string[], env: Record<string, string> = {}): NodeConfig => {
  const loaded = loadConfig(argv, env);
  if (loaded.help) throw new Error("unexpected --help");
  return loaded.config;
};

describe("loadConfig(): the Redis settings", () => {
  it("keeps everything in memory without a Redis setting", () => {
    const config = load([]);
    expect(config).to.include({ redisUrl: undefined, redisClusterNodes: undefined, kvStore: "memory", redisKeyPrefix: "rpci:", redisCommandTimeoutMs: 100 });
  });

  it("reads REDIS_URL, REDIS_KEY_PREFIX, REDIS_COMMAND_TIMEOUT_MS and KV_STORE, flags winning over variables", () => {
    const config = load(["--redis-key-prefix", "blue:"], { REDIS_URL: "redis://10.0.0.5:6380/2", REDIS_KEY_PREFIX: "green:", REDIS_COMMAND_TIMEOUT_MS: "80", KV_STORE: "redis" });
    expect(config).to.include({ redisUrl: "redis://10.0.0.5:6380/2", redisKeyPrefix: "blue:", redisCommandTimeoutMs: 80, kvStore: "redis" });
  });

  it("reads REDIS_CLUSTER_NODES as host:port seeds", () => {
    expect(load([], { REDIS_CLUSTER_NODES: " 127.0.0.1:7000, redis-b:7001,[::1]:7002 " }).redisClusterNodes).to.deep.equal(["127.0.0.1:7000", "redis-b:7001", "[::1]:7002"]);
  });

  it("treats an empty REDIS_URL as unset", () => {
    expect(load([], { REDIS_URL: "" }).redisUrl).to.equal(undefined);
  });

  for (const [env, message] of [
    [{ REDIS_URL: "127.0.0.1:6379" }, /REDIS_URL must be a URL/],
    [{ REDIS_URL: "http://127.0.0.1:6379" }, /REDIS_URL must start with redis:\/\//],
    [{ REDIS_CLUSTER_NODES: "127.0.0.1" }, /REDIS_CLUSTER_NODES must be host:port/],
    [{ REDIS_CLUSTER_NODES: "a:1,b:70000" }, /REDIS_CLUSTER_NODES must be host:port/],
    [{ REDIS_URL: "redis://a:1", REDIS_CLUSTER_NODES: "b:2" }, /not both/],
    [{ KV_STORE: "redis" }, /KV_STORE=redis needs REDIS_URL or REDIS_CLUSTER_NODES/],
    [{ KV_STORE: "disk" }, /KV_STORE must be memory or redis/],
    [{ REDIS_COMMAND_TIMEOUT_MS: "0" }, /REDIS_COMMAND_TIMEOUT_MS must be an integer >= 1/],
  ] as const) {
    it(`throws a ConfigError for ${JSON.stringify(env)}`, () => {
      expect(() => load([], env)).to.throw(ConfigError, message);
    });
  }

  it("lists the Redis settings in --help", () => {
    const help = helpText();
    for (const name of ["REDIS_URL", "REDIS_CLUSTER_NODES", "REDIS_KEY_PREFIX", "REDIS_COMMAND_TIMEOUT_MS", "KV_STORE"]) expect(help).to.contain(name);
    expect(help).to.match(/--redis-url VALUE .*\(default: none\)/);
  });
});
