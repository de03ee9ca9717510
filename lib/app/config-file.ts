import { readFileSync } from "node:fs";
import type { StatusName } from "../core/status.js";

/** A static token's principal as the config file names it. */
export interface TokenPrincipalConfig {
  readonly subject: string;
  readonly scopes?: readonly string[];
  readonly roles?: readonly string[];
}

/** One stacked rate limit as the config file writes it; see docs/policy.md. */
export interface RateLimitConfig {
  readonly name?: string;
  /** The methods it charges (selector patterns). Default every method. */
  readonly methods?: string | readonly string[];
  /** `peer` (default), `principal`, `method`, or `metadata:<name>`. */
  readonly key?: string;
  readonly capacity: number;
  readonly refillPerSecond: number;
  /** Points per call: one number, or selector pattern -> points (the first matching wins; default 1). */
  readonly cost?: number | Readonly<Record<string, number>>;
}

/** One fault rule as the config file writes it (the fields of FaultRule). */
export interface FaultRuleConfig {
  readonly methods?: string | readonly string[];
  readonly delayMs?: number;
  readonly delayPercent?: number;
  readonly abort?: StatusName;
  readonly abortPercent?: number;
}

/** The parts of the configuration only the file can hold: lists and maps. */
export interface StructuredConfig {
  /** Static tokens with their principals (`"auth-tokens": { "<token>": { "subject": ... } }`). */
  readonly tokenPrincipals?: ReadonlyMap<string, TokenPrincipalConfig>;
  readonly rateLimits?: readonly RateLimitConfig[];
  readonly faults?: readonly FaultRuleConfig[];
  readonly redact?: readonly string[];
  /** An inline policy (`"policy": { "KeyValue/Put": ["kv:write"] }`). */
  readonly policy?: Readonly<Record<string, readonly string[]>>;
}

/** What a config file holds: option values by flag name (as text), and the structured parts. */
export interface ConfigFile {
  readonly values: ReadonlyMap<string, string>;
  readonly structured: StructuredConfig;
}

/** A config file that is not right; the message says which file and why. */
export class ConfigFileError extends Error {
  override readonly name = "ConfigFileError";
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);

function stringList(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) throw new ConfigFileError(`${where} must be a list of strings`);
  return value as string[];
}

/** Reads and parses a JSON file; a ConfigFileError names the file. */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigFileError(`${what} ${JSON.stringify(path)} cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigFileError(`${what} ${JSON.stringify(path)} is not JSON: ${(error as Error).message}`);
  }
}

/** A policy document: selector pattern -> the scopes it requires. */
export function policyOf(value: unknown, where: string): Record<string, readonly string[]> {
  if (!isObject(value)) throw new ConfigFileError(`${where} must map selectors to lists of scopes: {"KeyValue/Put": ["kv:write"]}`);
  const policy: Record<string, readonly string[]> = {};
  for (const [pattern, scopes] of Object.entries(value)) policy[pattern] = stringList(scopes, `${where}[${JSON.stringify(pattern)}]`);
  return policy;
}

function objectList<T>(value: unknown, where: string): T[] {
  if (!Array.isArray(value) || value.some((item) => !isObject(item))) throw new ConfigFileError(`${where} must be a list of objects`);
  return value as T[];
}

/**
 * Reads bin/node's `--config` file: one JSON object whose keys are option flag names
 * (`"rate-limit-capacity": 20`, `"jwt-issuer": "https://id.example"`) or the structured parts:
 * `auth-tokens` as an object (token -> principal), `policy` inline, `public-methods` as a list,
 * `rate-limits`, `faults`, `redact`. `known` is the set of option flag names; any other key is an error.
 */
export function readConfigFile(path: string, known: ReadonlySet<string>): ConfigFile {
  const document = readJsonFile(path, "config file");
  if (!isObject(document)) throw new ConfigFileError(`config file ${JSON.stringify(path)} must hold a JSON object`);
  const values = new Map<string, string>();
  const structured: { -readonly [K in keyof StructuredConfig]: StructuredConfig[K] } = {};
  for (const [key, value] of Object.entries(document)) {
    const where = `config file: ${key}`;
    if (key === "auth-tokens" && isObject(value)) {
      const principals = new Map<string, TokenPrincipalConfig>();
      for (const [token, principal] of Object.entries(value)) {
        if (typeof principal === "string") principals.set(token, { subject: principal });
        else if (isObject(principal) && typeof principal["subject"] === "string") {
          principals.set(token, {
            subject: principal["subject"],
            ...(principal["scopes"] === undefined ? {} : { scopes: stringList(principal["scopes"], `${where}: scopes`) }),
            ...(principal["roles"] === undefined ? {} : { roles: stringList(principal["roles"], `${where}: roles`) }),
          });
        } else throw new ConfigFileError(`${where}: each token maps to a subject or {"subject", "scopes", "roles"}`);
      }
      structured.tokenPrincipals = principals;
    } else if (key === "policy" && isObject(value)) structured.policy = policyOf(value, where);
    else if (key === "rate-limits") structured.rateLimits = objectList<RateLimitConfig>(value, where);
    else if (key === "faults") structured.faults = objectList<FaultRuleConfig>(value, where);
    else if (key === "redact") structured.redact = stringList(value, where);
    else if (known.has(key)) {
      if (Array.isArray(value) && value.every((item) => typeof item === "string")) values.set(key, value.join(","));
      else if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") values.set(key, String(value));
      else throw new ConfigFileError(`${where} must be a string, a number, a boolean or a list of strings`);
    } else throw new ConfigFileError(`config file ${JSON.stringify(path)}: unknown key ${JSON.stringify(key)}`);
  }
  return { values, structured };
}
