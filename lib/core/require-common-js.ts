import { createRequire } from "node:module";

/**
 * require() for the CommonJS packages loaded at start-up (koa-compose, pino, @pinojs/redact,
 * rate-limiter-flexible), used instead of `import`.
 *
 * An `import` of a CommonJS file makes Node scan its source for the names it exports (the CJS
 * lexer, JavaScript run at start-up). Scanned together, the few CommonJS packages bin/node loads
 * make the lexer hot enough to be compiled by the optimising compiler, which cost bin/node about
 * 24 ms of CPU and 15 ms of its ~150 ms start-up on the reference machine. require() loads the
 * same module without scanning it. Packages resolve from this package's node_modules as for any
 * of its files.
 *
 * @example
 *   const compose: typeof import("koa-compose") = requireCommonJs("koa-compose");
 */
export const requireCommonJs: NodeJS.Require = createRequire(import.meta.url);
