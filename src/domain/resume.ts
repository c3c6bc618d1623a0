import { directMessageFrame } from './direct.js'
import { groupMessageFrame } from './messages.js'
import type { ServerFrame } from '../schemas/frames/index.js'
import type { BacklogStore } from './ports.js'

/** At most this many missed messages are replayed on a resume; past it the client pages through history. */
export const DEFAULT_RESUME_LIMIT = 1_000

/**
 * A replay hands the event loop back after this many frames, so a large backlog never holds up other
 * sockets' frames, requests or timers for longer than the writing of this many frames.
 */
export const REPLAY_FRAMES_PER_TURN = 100

/** Lets the event loop run what waits (I/O, timers) before going on. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

/** A socket being resumed: live frames held back while the backlog goes out first. */
export interface ResumingConnection {
  readonly userId: number
  /** Holds live frames and starts de-duplicating message frames by id. Idempotent. */
  beginResume(): void
  /** Sends a frame ahead of the held live ones. */
  replay(frame: ServerFrame): void
  /** Sends the held live frames, skipping messages already replayed. */
  releaseHeld(): void
}

export interface ResumeResult {
  replayed: number
  /** True when more than the limit was missed: nothing was replayed and a `system` frame said so. */
  truncated: boolean
}

/**
 * Replays every message the user missed after `since`, in id order, then lets the held live frames
 * through without repeating any. The connection must already be attached to the hub and holding
 * (`beginResume`) before this reads the backlog: a message committed meanwhile is then either in the
 * backlog or held, and the id check drops the copy when it is in both. The replay yields to the event
 * loop every `REPLAY_FRAMES_PER_TURN` frames.
 */
export async function replayMissed(
  backlog: BacklogStore,
  connection: ResumingConnection,
  since: number,
  limit = DEFAULT_RESUME_LIMIT,
): Promise<ResumeResult> {
  connection.beginResume()
  try {
    const missed = await backlog.backlog(connection.userId, since, limit + 1)
    if (missed.length > limit) {
      connection.replay({
        type: 'system',
        code: 'RESUME_LIMIT_EXCEEDED',
        content: `More than ${limit} messages were missed since ${since}: page through each conversation's history with after_id=${since}.`,
        since,
        limit,
      })
      return { replayed: 0, truncated: true }
    }
    let sent = 0
    for (const message of missed) {
      connection.replay(message.group_id !== undefined ? groupMessageFrame(message) : directMessageFrame(message))
      sent += 1
      if (sent % REPLAY_FRAMES_PER_TURN === 0 && sent < missed.length) await yieldToEventLoop()
    }
    const last = missed.at(-1)?.id ?? since
    connection.replay({
      type: 'system',
      code: 'RESUME_COMPLETE',
      content: `Replayed ${missed.length} missed messages; live from here.`,
      since,
      replayed: missed.length,
      last_id: last,
    })
    return { replayed: missed.length, truncated: false }
  } finally {
    connection.releaseHeld()
  }
}
