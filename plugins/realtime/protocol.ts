import type { BacklogStore } from '../../src/domain/ports.js'
import { replayMissed } from '../../src/domain/resume.js'
import { AckOut, ErrorOut, PingIn, PongOut, ResumeIn, SystemOut } from '../../src/schemas/frames/index.js'
import type { Realtime } from './registry.js'

/**
 * The frames of the protocol itself: `ping` → `pong`, `resume`, and the `ack`/`error`/`system` frames
 * any concern may answer with. Every other frame is registered by the route plugin of its concern.
 */
export function registerProtocolFrames(realtime: Realtime, backlog: BacklogStore, resumeLimit: number): void {
  realtime.sends(AckOut, ErrorOut, PongOut, SystemOut)

  realtime.frame('ping', PingIn, () => ({ type: 'pong', timestamp: new Date().toISOString() }))
  realtime.frame('resume', ResumeIn, async (frame, connection) => {
    try {
      const result = await replayMissed(backlog, connection, frame.since, resumeLimit)
      return { type: 'ack', ...result }
    } finally {
      connection.endResume()
    }
  })
}
