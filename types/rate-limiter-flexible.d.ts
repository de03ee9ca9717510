// Deep imports of rate-limiter-flexible: its index loads every store (~30 ms of startup for
// bin/node); these two files are all the in-memory token bucket needs.
declare module "rate-limiter-flexible/lib/RateLimiterRes.js" {
  import { RateLimiterRes } from "rate-limiter-flexible";
  export default RateLimiterRes;
}
declare module "rate-limiter-flexible/lib/RateLimiterCompatibleAbstract.js" {
  import { RateLimiterCompatibleAbstract } from "rate-limiter-flexible";
  export default RateLimiterCompatibleAbstract;
}
