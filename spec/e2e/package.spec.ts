import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import ts from "typescript";

// The package as another project sees it: what `npm pack` puts in the tarball, installed by
// name into a scratch project, imported from JavaScript and compiled against from TypeScript.

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "..", "..", "..");
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

interface Packed {
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

const CONSUMER_MJS = `
import { Application, CallContext, auth, createLogger, keyValueService, logging, rateLimit, router } from "rpc-interceptors";
const { logger } = createLogger({ level: "silent" });
const app = new Application().use(logging({ logger })).use(auth({ tokens: ["t"] })).use(rateLimit()).handle(router([keyValueService()]));
const ctx = new CallContext({ service: "KeyValue", method: "Put", request: { key: "k", value: "v" }, metadata: { authorization: "Bearer t" }, peer: "c1" });
await app.run(ctx);
const deep = await import("rpc-interceptors/dist/lib/core/application.js").then(() => "importable", (error) => error.code);
console.log(JSON.stringify({ status: ctx.status, applied: ctx.applied, response: ctx.response, deep }));
`;

const CONSUMER_TS = `
import Koa from "koa";
import { Application, auth, CallContext, keyValueService, logging, type Principal, rateLimit, router, Status, StatusError } from "rpc-interceptors";
const app = new Application().use(logging()).use(auth({ tokens: ["t"] })).use(rateLimit());
app.handle((ctx) => {
  const who: Principal = ctx.state.principal;
  ctx.response = who.subject;
});
new Application().use(logging()).handle((ctx) => {
  // @ts-expect-error the types are real (not any): no principal without auth
  ctx.response = ctx.state.principal;
});
const error: StatusError = new StatusError(Status.NOT_FOUND);
const http: number = error.statusCode;
const koa = new Koa().use(auth({ tokens: ["t"] })).use(rateLimit({ capacity: 5 }));
export { app, http, koa, CallContext, keyValueService, router };
`;

describe("the package from another project (npm pack; slow: ~15 s of npm install and tsc)", function () {
  this.timeout(120_000);
  let dir: string;
  let packed: Packed;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rpc-interceptors-pack-"));
    // npm test has just built dist/; --ignore-scripts keeps pack from building it again.
    const { stdout } = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], { cwd: ROOT });
    packed = (JSON.parse(stdout) as Packed[])[0]!;
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("holds the built library, its types and bin/node, and nothing of the specs", () => {
    const paths = packed.files.map((file) => file.path);
    expect(paths).to.include.members([
      "package.json",
      "bin/node",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/lib/core/application.js",
      "dist/lib/core/host-context.d.ts",
      "dist/middleware/auth.js",
      "dist/bin/node.js",
      "types/rate-limiter-flexible.d.ts",
    ]);
    const unwanted = paths.filter((path) => /^(dist\/)?(spec|examples|bench)\//.test(path) || (/\.ts$/.test(path) && !/\.d\.ts$/.test(path)));
    expect(unwanted).to.deep.equal([]);
  });

  describe("installed by name into a scratch project", () => {
    let project: string;
    before(async () => {
      project = join(dir, "consumer");
      await mkdir(project);
      await writeFile(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
      await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", join(dir, packed.filename)], { cwd: project });
    });

    it("imports from JavaScript, with deep imports closed by exports", async () => {
      await writeFile(join(project, "consumer.mjs"), CONSUMER_MJS);
      const { stdout } = await run(process.execPath, ["consumer.mjs"], { cwd: project });
      expect(JSON.parse(stdout)).to.deep.equal({
        status: "OK",
        applied: ["logging", "auth", "rate_limit"],
        response: { written: true },
        deep: "ERR_PACKAGE_PATH_NOT_EXPORTED",
      });
    });

    it("compiles a strict TypeScript consumer against its declarations, skipLibCheck off", async () => {
      await writeFile(join(project, "consumer.ts"), CONSUMER_TS);
      const compilerOptions = {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        exactOptionalPropertyTypes: true,
        noEmit: true,
        skipLibCheck: false,
        types: ["node"],
        // @types/node and koa (for the Koa lines) from this repository's devDependencies.
        typeRoots: [join(ROOT, "node_modules", "@types")],
        paths: { koa: [join(ROOT, "node_modules", "@types", "koa")] },
      };
      await writeFile(join(project, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["consumer.ts"] }));
      const result = await run(process.execPath, [TSC, "-p", "tsconfig.json"], { cwd: project }).then(
        () => "",
        (error: { stdout?: string }) => error.stdout ?? String(error),
      );
      expect(result).to.equal("");
    });

    it("installs bin/node, which describes its chain", async () => {
      const { stdout } = await run(join(project, "node_modules", ".bin", "rpc-interceptors-node"), ["--describe"], { cwd: project });
      expect(stdout).to.include("KeyValue/Get      logging -> auth -> rate_limit -> handler");
    });
  });
});

describe("the public API (index.ts)", function () {
  this.timeout(30_000);

  it("has a doc comment on every export", () => {
    const program = ts.createProgram([join(ROOT, "index.ts")], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      skipLibCheck: true,
      noEmit: true,
      types: ["node"],
    });
    const checker = program.getTypeChecker();
    const index = checker.getSymbolAtLocation(program.getSourceFile(join(ROOT, "index.ts"))!)!;
    const exports = checker.getExportsOfModule(index);
    // A re-export counts as documented by the target's comment; `export * as ns` by the module's
    // opening doc comment (its @packageDocumentation).
    const documented = (symbol: ts.Symbol): boolean => {
      const declaration = symbol.valueDeclaration;
      if (declaration !== undefined && ts.isSourceFile(declaration)) return declaration.text.trimStart().startsWith("/**");
      return ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim() !== "";
    };
    const undocumented = exports
      .filter((symbol) => !documented(symbol) && !(symbol.flags & ts.SymbolFlags.Alias && documented(checker.getAliasedSymbol(symbol))))
      .map((symbol) => symbol.name);
    expect(exports.length).to.be.greaterThan(40);
    expect(undocumented).to.deep.equal([]);
  });
});
