import { CallContext } from "../lib/core/context.js";
import type { HostContext, KoaContext } from "../lib/core/host-context.js";
import type { MethodNotes, Next, PortableMiddleware } from "../lib/core/middleware.js";
import { Status } from "../lib/core/status.js";
import { StatusError } from "../lib/core/status-error.js";
import { tailCall } from "../lib/core/tail-call.js";
import { describeSelector, type MethodRef, type MethodSelector, methodMatcher, methodOf } from "../lib/core/when.js";
import type { Principal } from "../lib/auth/principal.js";
import type { AuthState } from "./auth.js";

/** One rule of {@link authorize}: for the methods it selects, what the principal needs. */
export interface AuthorizeRule {
  /** The methods the rule applies to (see MethodSelector). */
  readonly methods: MethodSelector;
  /** Scopes the principal must have, every one of them. */
  readonly scopes?: readonly string[];
  /** Roles of which the principal must have at least one. */
  readonly roles?: readonly string[];
  /** A decision of your own, after the scopes and roles: true to allow. Receives the host's context. */
  readonly allow?: (principal: Principal | undefined, ctx: HostContext) => boolean;
}

/** Options of {@link authorize}. */
export interface AuthorizeOptions {
  /**
   * Selector pattern -> the scopes it requires, as bin/node's `--policy` file holds it:
   * `{ "KeyValue/Put": ["kv:write"], "KeyValue/*": ["kv:read"] }`. Shorthand for rules with `scopes`.
   */
  readonly policy?: Readonly<Record<string, readonly string[]>>;
  /** Rules, checked after those of `policy`. */
  readonly rules?: readonly AuthorizeRule[];
  /** Refuse methods no rule selects. Default false: a method without a rule is open to every principal auth accepted. */
  readonly denyUnmatched?: boolean;
}

interface CompiledRule {
  readonly applies: (method: MethodRef) => boolean;
  readonly rule: AuthorizeRule;
  readonly text: string;
}

function checkNames(names: unknown, what: string): void {
  if (names === undefined) return;
  if (!Array.isArray(names) || names.some((name) => typeof name !== "string" || name === "")) {
    throw new TypeError(`authorize(): ${what} must be a list of non-empty strings`);
  }
}

function ruleText(rule: AuthorizeRule): string {
  const needs: string[] = [];
  if (rule.scopes !== undefined && rule.scopes.length > 0) needs.push(`scopes ${rule.scopes.join(" ")}`);
  if (rule.roles !== undefined && rule.roles.length > 0) needs.push(`a role of ${rule.roles.join(" ")}`);
  if (rule.allow !== undefined) needs.push(`${rule.allow.name || "allow"}()`);
  return needs.length === 0 ? "any principal" : needs.join(" and ");
}

/** What a principal lacks for a rule: for the message, and google.rpc.ErrorInfo's reason and metadata. */
interface Lack {
  readonly text: string;
  readonly reason: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** The first thing `principal` lacks for `rule`, or undefined when it satisfies the rule. */
function lacking(rule: AuthorizeRule, principal: Principal | undefined, ctx: HostContext): Lack | undefined {
  for (const scope of rule.scopes ?? []) {
    if (principal === undefined || !principal.scopes.includes(scope)) return { text: `scope ${scope}`, reason: "INSUFFICIENT_SCOPE", metadata: { scope } };
  }
  if (rule.roles !== undefined && rule.roles.length > 0 && !rule.roles.some((role) => principal?.roles.includes(role) === true)) {
    return { text: `a role of ${rule.roles.join(" ")}`, reason: "MISSING_ROLE", metadata: { roles: rule.roles.join(" ") } };
  }
  if (rule.allow !== undefined && rule.allow(principal, ctx) !== true) {
    const name = `${rule.allow.name || "allow"}()`;
    return { text: name, reason: "NOT_ALLOWED", metadata: { rule: name } };
  }
  return undefined;
}

/**
 * Per-method authorization of the principal auth put into `ctx.state`: every rule whose
 * selector matches the method must be satisfied (all its scopes, one of its roles, its
 * `allow()`), else the call ends with PERMISSION_DENIED naming the first thing missing. A call
 * without a principal (a public method) satisfies only rules that ask for nothing.
 *
 * On the wire its name is "authorize". Put it right after auth and before rateLimit, so that a
 * refused call spends no tokens. In Koa it fails with 403 and
 * `WWW-Authenticate: Bearer error="insufficient_scope"`. `describe()` lists what each method needs.
 *
 * @example
 *   app.use(auth({ jwt })).use(authorize({ policy: { "KeyValue/Put": ["kv:write"], "KeyValue/*": ["kv:read"] } }));
 *   app.use(authorize({ rules: [{ methods: "Admin/*", roles: ["admin"] }], denyUnmatched: true }));
 */
export function authorize(options: AuthorizeOptions): PortableMiddleware<Partial<AuthState>> {
  const rules: AuthorizeRule[] = [];
  for (const [pattern, scopes] of Object.entries(options?.policy ?? {})) {
    checkNames(scopes, `policy[${JSON.stringify(pattern)}]`);
    rules.push({ methods: pattern, scopes });
  }
  for (const rule of options?.rules ?? []) {
    checkNames(rule?.scopes, "a rule's scopes");
    checkNames(rule?.roles, "a rule's roles");
    if (rule.allow !== undefined && typeof rule.allow !== "function") throw new TypeError("authorize(): a rule's allow must be a function");
    rules.push(rule);
  }
  const denyUnmatched = options?.denyUnmatched === true;
  if (rules.length === 0 && !denyUnmatched) throw new TypeError("authorize(): give a policy or rules");
  const compiled: CompiledRule[] = rules.map((rule) => ({
    applies: methodMatcher(rule.methods, "authorize()"),
    rule,
    text: `${describeSelector(rule.methods)}: ${ruleText(rule)}`,
  }));

  /** Throws PERMISSION_DENIED when the call's principal does not satisfy every rule of its method. */
  const check = (ctx: HostContext): void => {
    const method = methodOf(ctx);
    const principal = (ctx.state as Partial<AuthState>).principal;
    let matched = false;
    for (const { applies, rule } of compiled) {
      if (!applies(method)) continue;
      matched = true;
      const missing = lacking(rule, principal, ctx);
      if (missing !== undefined) throw denied(ctx, `permission denied: needs ${missing.text}`, rule.scopes, missing);
    }
    if (!matched && denyUnmatched) throw denied(ctx, "permission denied: no rule allows this method", undefined, { reason: "NO_RULE", metadata: {} });
  };

  function authorize(ctx: CallContext<Partial<AuthState>> | KoaContext, next: Next): Promise<void> {
    try {
      check(ctx);
      return tailCall(next);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  const notes: MethodNotes = (method) => {
    const applying = compiled.filter(({ applies }) => applies(method)).map(({ text }) => text);
    if (applying.length === 0) return denyUnmatched ? "denied: no rule" : "open: no rule";
    return applying.join("; ");
  };
  return Object.assign(authorize, { describeMethod: notes });
}

/** The domain of authorize()'s ErrorInfo reasons. */
const DOMAIN = "rpc-interceptors.authorize";

/**
 * PERMISSION_DENIED, with details a gRPC host sends as google.rpc.ErrorInfo (reason
 * INSUFFICIENT_SCOPE, MISSING_ROLE, NOT_ALLOWED or NO_RULE, and what was missing); for an HTTP
 * host, RFC 6750's insufficient_scope challenge.
 */
function denied(ctx: HostContext, message: string, scopes: readonly string[] | undefined, lack: Pick<Lack, "reason" | "metadata">): StatusError {
  const details = { reason: lack.reason, domain: DOMAIN, metadata: lack.metadata };
  if (ctx instanceof CallContext) return new StatusError(Status.PERMISSION_DENIED, message, { details });
  const scope = scopes === undefined || scopes.length === 0 ? "" : `, scope="${scopes.join(" ")}"`;
  return new StatusError(Status.PERMISSION_DENIED, message, { details, headers: { "WWW-Authenticate": `Bearer error="insufficient_scope"${scope}` } });
}
