import { Application } from "../../lib/core/application.js";
import type { CallContext } from "../../lib/core/context.js";
import { keyValueService, MemoryStore } from "../../lib/key-value/key-value.js";
import type { Next } from "../../lib/core/middleware.js";
import { router } from "../../lib/core/service.js";
import type { Logger } from "../../lib/logging/logger.js";

/** A logger that keeps its lines, for assertions on what was logged. */
export class MemoryLogger implements Logger {
  readonly lines: { level: string; obj: Record<string, unknown>; msg: string | undefined }[] = [];
  readonly #level: number;
  static readonly #LEVELS = ["trace", "debug", "info", "warn", "error"];

  constructor(level: "trace" | "debug" | "info" = "info") {
    this.#level = MemoryLogger.#LEVELS.indexOf(level);
  }

  isLevelEnabled(level: string): boolean {
    return MemoryLogger.#LEVELS.indexOf(level) >= this.#level;
  }
  trace(obj: object, msg?: string): void {
    this.#log("trace", obj, msg);
  }
  debug(obj: object, msg?: string): void {
    this.#log("debug", obj, msg);
  }
  info(obj: object, msg?: string): void {
    this.#log("info", obj, msg);
  }
  warn(obj: object, msg?: string): void {
    this.#log("warn", obj, msg);
  }
  error(obj: object, msg?: string): void {
    this.#log("error", obj, msg);
  }
  #log(level: string, obj: object, msg: string | undefined): void {
    if (this.isLevelEnabled(level)) this.lines.push({ level, obj: { ...obj } as Record<string, unknown>, msg });
  }
}

/** What the server saw of one call. */
export interface SeenCall {
  readonly path: string;
  readonly request: unknown;
  readonly metadata: Record<string, string>;
}

/**
 * A KeyValue server application for client specs: records every call that reaches it, and
 * runs `extra` middleware (fault injection, slowness) in front of the handler.
 */
export function keyValueServer(...extra: ((ctx: CallContext, next: Next) => Promise<void>)[]) {
  const seen: SeenCall[] = [];
  const store = new MemoryStore();
  let app = new Application({ onError: () => {} }).use(async function record(ctx: CallContext, next: Next) {
    seen.push({ path: `${ctx.service}/${ctx.method}`, request: ctx.request, metadata: Object.fromEntries(ctx.metadata.entries()) });
    await next();
  });
  for (const middleware of extra) app = app.use(middleware);
  app.handle(router([keyValueService(store)]));
  return { app, seen, store };
}
