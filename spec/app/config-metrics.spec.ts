import { expect } from "chai";
import { ConfigError, helpText, loadConfig } from "../../lib/app/config.js";

function metricsListen(argv: string[], env: Record<string, string> = {}): unknown {
  const loaded = loadConfig(argv, env);
  if (loaded.help) throw new Error("unexpected --help");
  return loaded.config.metricsListen;
}

describe("loadConfig(): --metrics-listen / METRICS_LISTEN", () => {
  it("is off by default, and an empty value keeps it off", () => {
    expect(metricsListen([])).to.equal(undefined);
    expect(metricsListen([], { METRICS_LISTEN: " " })).to.equal(undefined);
  });

  it("reads HOST:PORT from the flag or the variable (the flag wins), IPv6 in brackets, port 0 for any free port", () => {
    expect(metricsListen(["--metrics-listen", "127.0.0.1:9464"])).to.equal("127.0.0.1:9464");
    expect(metricsListen([], { METRICS_LISTEN: "localhost:0" })).to.equal("localhost:0");
    expect(metricsListen(["--metrics-listen", "[::1]:9464"], { METRICS_LISTEN: "a:1" })).to.equal("[::1]:9464");
  });

  it("refuses anything else, naming the setting", () => {
    for (const bad of ["9464", "host:", "host:70000", "a b:1"]) {
      expect(() => loadConfig([], { METRICS_LISTEN: bad }), bad).to.throw(ConfigError, /METRICS_LISTEN must be HOST:PORT/);
    }
  });

  it("is in --help", () => {
    expect(helpText()).to.match(/--metrics-listen VALUE\s+METRICS_LISTEN\s+serve Prometheus GET \/metrics/);
  });
});
