import t from 'tap'
import type { BacklogStore } from '../../../src/domain/ports.js'
import { REPLAY_FRAMES_PER_TURN, replayMissed, type ResumingConnection } from '../../../src/domain/resume.js'
import type { Message } from '../../../src/schemas/message.js'
import type { ServerFrame } from '../../../src/schemas/frames/index.js'

const message = (id: number): Message => ({
  id,
  group_id: 1,
  sender_id: 2,
  kind: 'text',
  content: `m${id}`,
  media_url: null,
  reply_to_id: null,
  client_msg_id: null,
  timestamp: new Date(0).toISOString(),
  edited_at: null,
  deleted: false,
})

/** A connection that records what is replayed to it. */
function recordingConnection(): ResumingConnection & { replayed: ServerFrame[] } {
  const replayed: ServerFrame[] = []
  return {
    userId: 2,
    replayed,
    beginResume: () => undefined,
    replay: (frame) => replayed.push(frame),
    releaseHeld: () => undefined,
  }
}

t.test('a large replay yields to the event loop: work queued before it runs before it ends', async (t) => {
  const total = 1_000
  const backlog: BacklogStore = { backlog: async () => Array.from({ length: total }, (_, i) => message(i + 1)) }
  const connection = recordingConnection()

  let replayedWhenImmediateRan: number | undefined
  setImmediate(() => (replayedWhenImmediateRan = connection.replayed.length))
  const result = await replayMissed(backlog, connection, 0, total)

  t.equal(result.replayed, total)
  t.equal(connection.replayed.length, total + 1, 'every message, then RESUME_COMPLETE')
  t.ok(replayedWhenImmediateRan !== undefined, 'work queued before the replay ran before it ended')
  t.ok((replayedWhenImmediateRan ?? total) < total, `it ran after ${replayedWhenImmediateRan} of ${total} frames`)
  t.ok((replayedWhenImmediateRan ?? 0) <= REPLAY_FRAMES_PER_TURN, 'no more than one turn’s frames went first')
})

t.test('a small replay finishes in one go', async (t) => {
  const backlog: BacklogStore = { backlog: async () => [message(1), message(2)] }
  const connection = recordingConnection()
  const result = await replayMissed(backlog, connection, 0)
  t.equal(result.replayed, 2)
  t.equal(connection.replayed.at(-1)?.type, 'system')
})
