/// <reference path="../../types/rate-limiter-flexible.d.ts" preserve="true" />
import { createRequire } from "node:module";
import type RateLimiterCompatibleAbstractClass from "rate-limiter-flexible/lib/RateLimiterCompatibleAbstract.js";
import type RateLimiterResClass from "rate-limiter-flexible/lib/RateLimiterRes.js";

/**
 * The two classes of rate-limiter-flexible the limiters build on (deep paths: its index loads
 * every store), loaded with require() rather than `import`.
 *
 * An `import` of a CommonJS file makes Node scan its source for the names it exports (the CJS
 * lexer, JavaScript run at start-up). bin/node imports a few CommonJS packages at start-up (pino
 * and @pinojs/redact in logging, koa-compose in the core, these two here); scanned together
 * they make the lexer hot enough to be compiled by the optimising compiler, which cost bin/node
 * about 24 ms of CPU and 15 ms of its 150 ms start-up on the reference machine. require() loads
 * the same module without scanning it.
 */
const require = createRequire(import.meta.url);

export const RateLimiterRes: typeof RateLimiterResClass = require("rate-limiter-flexible/lib/RateLimiterRes.js");
export type RateLimiterRes = RateLimiterResClass;

export const RateLimiterCompatibleAbstract: typeof RateLimiterCompatibleAbstractClass = require("rate-limiter-flexible/lib/RateLimiterCompatibleAbstract.js");
export type RateLimiterCompatibleAbstract = RateLimiterCompatibleAbstractClass;
