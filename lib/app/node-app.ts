import { auth, type AuthOptions } from "../../middleware/auth.js";
import { authorize } from "../../middleware/authorize.js";
import { faults } from "../../middleware/faults.js";
import { logging } from "../../middleware/logging.js";
import { type ConsumingLimiter, rateLimit, type StackedLimit } from "../../middleware/rate-limit.js";
import { keyByMetadata, keyByMethod, keyByPrincipal } from "../../middleware/rate-limit-keys.js";
import { Application } from "../core/application.js";
import type { Middleware } from "../core/middleware.js";
import type { HostContext } from "../core/host-context.js";
import { methodMatcher, methodOf } from "../core/when.js";
import type { JwtVerifierOptions } from "../auth/jwt-verifier.js";
import type { RateLimitConfig } from "./config-file.js";
import type { NodeConfig } from "./config.js";
import { type KeyValueStore, keyValueService } from "../key-value/key-value.js";
import type { Logger } from "../logging/logger.js";
import { router } from "../core/service.js";

/** Makes the limiter of one stacked limit (a RedisTokenBucket, say) from its name and bucket. */
export type LimiterFactory = (limit: { readonly name: string; readonly capacity: number; readonly refillPerSecond: number }) => ConsumingLimiter;

/** What {@link createNodeApplication} needs. */
export interface NodeApplicationOptions {
  readonly config: Pick<NodeConfig, "authTokens" | "rateLimitCapacity" | "rateLimitRefillPerSecond" | "trustProxy"> &
    Partial<Omit<NodeConfig, "authTokens" | "rateLimitCapacity" | "rateLimitRefillPerSecond" | "trustProxy">>;
  readonly logger: Logger;
  /** Where KeyValue keeps its data; in memory by default. */
  readonly store?: KeyValueStore | undefined;
  /** The rate limiter (a RedisTokenBucket, say); by default an in-memory token bucket per config. */
  readonly limiter?: ConsumingLimiter | undefined;
  /** The limiters of stacked `rateLimits`; by default in-memory token buckets. */
  readonly limiterFor?: LimiterFactory | undefined;
  /** Middleware put before logging (tracing, metrics: see NodeTelemetry), outermost first; none by default. */
  readonly observability?: readonly Middleware[] | undefined;
}

type Config = NodeApplicationOptions["config"];

/** The JWT options of the config, or undefined when no JWT key is set. */
export function jwtOptionsOf(config: Config): JwtVerifierOptions | undefined {
  const jwks = config.jwtJwks;
  const key = config.jwtSecret !== undefined
    ? { secret: config.jwtSecret }
    : config.jwtPublicKey !== undefined
      ? { publicKey: config.jwtPublicKey.pem }
      : jwks === undefined
        ? undefined
        : "url" in jwks
          ? { jwksUrl: jwks.url, allowInsecureLoopback: config.jwtJwksAllowHttpLoopback === true }
          : { jwks: jwks.jwks as { keys: [] } };
  if (key === undefined) return undefined;
  return {
    ...key,
    ...(config.jwtIssuer === undefined ? {} : { issuer: config.jwtIssuer }),
    ...(config.jwtAudience === undefined ? {} : { audience: config.jwtAudience }),
    ...(config.jwtAlgorithms === undefined ? {} : { algorithms: config.jwtAlgorithms }),
    ...(config.jwtClockToleranceSeconds === undefined ? {} : { clockToleranceSeconds: config.jwtClockToleranceSeconds }),
  };
}

/** The key function a config file's `key` names. */
function keyFunction(key: string | undefined, where: string): ((ctx: HostContext) => string) | undefined {
  if (key === undefined || key === "peer") return undefined;
  if (key === "principal") return keyByPrincipal;
  if (key === "method") return keyByMethod;
  if (key.startsWith("metadata:") && key.length > "metadata:".length) return keyByMetadata(key.slice("metadata:".length));
  throw new TypeError(`${where}: key must be peer, principal, method or metadata:<name>, got ${JSON.stringify(key)}`);
}

/** The cost function a config file's `cost` describes: one number, or selector pattern -> points. */
function costFunction(cost: RateLimitConfig["cost"], where: string): ((ctx: HostContext) => number) | undefined {
  if (cost === undefined) return undefined;
  if (typeof cost === "number") return () => cost;
  if (cost === null || typeof cost !== "object") throw new TypeError(`${where}: cost must be a number or an object of selector -> points`);
  const table = Object.entries(cost).map(([pattern, points]) => {
    if (typeof points !== "number") throw new TypeError(`${where}: cost of ${pattern} must be a number`);
    return { applies: methodMatcher(pattern, where), points };
  });
  return (ctx) => {
    const method = methodOf(ctx);
    return table.find(({ applies }) => applies(method))?.points ?? 1;
  };
}

/** The stacked limits of a config file, each with its limiter. */
function stackedLimits(limits: readonly RateLimitConfig[], limiterFor: LimiterFactory | undefined): StackedLimit[] {
  return limits.map((limit, i) => {
    const name = limit.name ?? `limit#${i + 1}`;
    const where = `rate-limits[${i}] (${name})`;
    const key = keyFunction(limit.key, where);
    const cost = costFunction(limit.cost, where);
    const bucket = { capacity: limit.capacity, refillPerSecond: limit.refillPerSecond };
    return {
      name,
      ...(limit.methods === undefined ? {} : { methods: limit.methods }),
      ...(limiterFor === undefined ? bucket : { limiter: limiterFor({ name, ...bucket }) }),
      ...(key === undefined ? {} : { key }),
      ...(cost === undefined ? {} : { cost }),
    };
  });
}

/** The options of bin/node's `auth`, from its configuration (the stdio host's check before the limits uses them too). */
export function authOptionsOf(config: NodeApplicationOptions["config"]): AuthOptions {
  const jwt = jwtOptionsOf(config);
  const tokens = config.tokenPrincipals ?? (config.authTokens.length === 0 ? undefined : config.authTokens);
  return {
    ...(tokens === undefined ? {} : { tokens }),
    ...(jwt === undefined ? {} : { jwt }),
    ...(config.publicMethods === undefined ? {} : { publicMethods: config.publicMethods }),
  };
}

/**
 * The application bin/node serves: logging -> auth -> rate_limit -> KeyValue, as the seed has
 * it; with configuration, faults after logging, auth with JWTs and public methods, authorize
 * after auth, stacked limits. Bad settings throw a TypeError here, before any call.
 */
export function createNodeApplication({ config, logger, store, limiter, limiterFor, observability = [] }: NodeApplicationOptions) {
  const authOptions = authOptionsOf(config);
  const limits = config.rateLimits !== undefined
    ? { limits: stackedLimits(config.rateLimits, limiterFor) }
    : limiter === undefined
      ? { capacity: config.rateLimitCapacity, refillPerSecond: config.rateLimitRefillPerSecond, trustProxy: config.trustProxy }
      : { limiter, trustProxy: config.trustProxy };
  const app = new Application({
    onError: (err, ctx, at) => logger.error({ err, service: ctx.service, method: ctx.method, client: ctx.peer, at }, "call failed"),
  });
  for (const middleware of observability) app.use(middleware);
  app.use(logging({ logger, ...(config.redact === undefined ? {} : { redact: config.redact }) }));
  if (config.faults !== undefined || config.faultsFromMetadata === true) {
    app.use(faults({ rules: config.faults ?? [], fromMetadata: config.faultsFromMetadata === true }));
  }
  app.use(auth(authOptions));
  if (config.policy !== undefined) app.use(authorize({ policy: config.policy }));
  return app
    .use(rateLimit(limits))
    .handle(router([keyValueService(store, { maxKeyBytes: config.maxKeyBytes, maxValueBytes: config.maxValueBytes })]));
}
