/// <reference path="../../types/rate-limiter-flexible.d.ts" preserve="true" />
import type RateLimiterCompatibleAbstractClass from "rate-limiter-flexible/lib/RateLimiterCompatibleAbstract.js";
import type RateLimiterResClass from "rate-limiter-flexible/lib/RateLimiterRes.js";
import { requireCommonJs } from "../core/require-common-js.js";

/**
 * The two classes of rate-limiter-flexible the limiters build on (deep paths: its index loads
 * every store), loaded with require() for start-up time (see requireCommonJs).
 */
export const RateLimiterRes: typeof RateLimiterResClass = requireCommonJs("rate-limiter-flexible/lib/RateLimiterRes.js");
export type RateLimiterRes = RateLimiterResClass;

export const RateLimiterCompatibleAbstract: typeof RateLimiterCompatibleAbstractClass = requireCommonJs("rate-limiter-flexible/lib/RateLimiterCompatibleAbstract.js");
export type RateLimiterCompatibleAbstract = RateLimiterCompatibleAbstractClass;
