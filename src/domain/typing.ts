/** How long a `start` lasts without a renewal before the server announces `stop` by itself. */
const TYPING_TTL_MS = 6_000
/** A sender's repeated `start`s into one conversation are forwarded at most this often. */
const TYPING_THROTTLE_MS = 2_000

interface TypingEntry {
  lastForwarded: number
  expiry: NodeJS.Timeout
}

/**
 * Who is typing where, in memory only (typing is never stored). Decides which `start`/`stop`
 * frames are worth forwarding and expires a `start` that is not renewed.
 */
export class TypingTracker {
  private readonly entries = new Map<string, TypingEntry>()

  constructor(
    private readonly onExpire: (key: string) => void,
    private readonly ttlMs = TYPING_TTL_MS,
    private readonly throttleMs = TYPING_THROTTLE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a `start`; true when it should be forwarded (the first, or one after the throttle window). */
  start(key: string): boolean {
    const existing = this.entries.get(key)
    const now = this.now()
    if (existing) clearTimeout(existing.expiry)
    const forward = !existing || now - existing.lastForwarded >= this.throttleMs
    const expiry = setTimeout(() => {
      this.entries.delete(key)
      this.onExpire(key)
    }, this.ttlMs)
    expiry.unref()
    this.entries.set(key, { lastForwarded: forward ? now : (existing?.lastForwarded ?? now), expiry })
    return forward
  }

  /** Records a `stop`; true when the sender was typing, so the others should hear it. */
  stop(key: string): boolean {
    const existing = this.entries.get(key)
    if (!existing) return false
    clearTimeout(existing.expiry)
    this.entries.delete(key)
    return true
  }

  /** Forgets everything without announcing (shutdown). */
  clear(): void {
    for (const entry of this.entries.values()) clearTimeout(entry.expiry)
    this.entries.clear()
  }
}
