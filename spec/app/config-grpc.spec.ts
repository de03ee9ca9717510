import { expect } from "chai";
import { ConfigError, loadConfig, type NodeConfig } from "../../lib/app/config.js";

function config(argv: readonly string[], env: Record<string, string> = {}): NodeConfig {
  const loaded = loadConfig(argv, env);
  if (loaded.help) throw new Error("unexpected --help");
  return loaded.config;
}

describe("loadConfig(): the gRPC settings", () => {
  it("reads --listen HOST:PORT (or LISTEN), IPv6 in brackets, port 0 included", () => {
    expect(config(["--listen", "127.0.0.1:50051"]).listen).to.equal("127.0.0.1:50051");
    expect(config([], { LISTEN: "[::]:0" }).listen).to.equal("[::]:0");
    expect(config(["--listen", "localhost:0"], { LISTEN: "0.0.0.0:1" }).listen).to.equal("localhost:0");
    expect(config([]).listen).to.equal(undefined);
  });

  it("refuses a --listen that is not HOST:PORT", () => {
    for (const bad of ["50051", "host:", ":50051", "host:65536", "a b:1", "::1:50051"]) {
      expect(() => loadConfig(["--listen", bad], {}), bad).to.throw(ConfigError, /--listen must be HOST:PORT/);
    }
  });

  it("reads the message size limit and the shutdown grace period", () => {
    const read = config([], { GRPC_MAX_MESSAGE_BYTES: "1048576", GRPC_SHUTDOWN_GRACE_MS: "0" });
    expect(read.grpcMaxMessageBytes).to.equal(1048576);
    expect(read.grpcShutdownGraceMs).to.equal(0);
    expect(() => loadConfig(["--grpc-max-message-bytes", "0"], {})).to.throw(ConfigError);
  });
});
