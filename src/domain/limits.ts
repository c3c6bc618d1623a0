import { ChatError } from './errors.js'

/**
 * A refusal for going over a limit, with how long to wait: on REST a 429 `RATE_LIMITED` with
 * `Retry-After` (whole seconds), on the socket an `error` frame `RATE_LIMITED` with `retry_after_ms`.
 */
export class RateLimitedError extends ChatError {
  constructor(
    message: string,
    /** How long, in ms, until the limit lets the next one through. */
    readonly retryAfterMs: number,
  ) {
    super(429, 'RATE_LIMITED', message, Math.max(1, Math.ceil(retryAfterMs / 1000)))
  }
}

/**
 * A per-user allowance of one kind of action (sends, being added to groups), counted wherever the
 * action comes from — REST, socket — and, with Redis, across every instance.
 */
export interface Budget {
  /** Counts one use by (or for) the user; throws `RateLimitedError` once over the limit, and nothing is counted as done. */
  charge(userId: number): Promise<void>
}

/** A budget that never refuses: for a limit that is turned off. */
export const UNLIMITED: Budget = { charge: async () => undefined }
