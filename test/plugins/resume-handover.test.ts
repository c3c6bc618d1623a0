import t from 'tap'
import type { WebSocket } from 'ws'
import { SocketConnection } from '../../plugins/realtime/connection.js'
import { LocalHub } from '../../plugins/hub/local-hub.js'
import { groupMessageFrame } from '../../src/domain/messages.js'
import type { BacklogStore } from '../../src/domain/ports.js'
import { replayMissed } from '../../src/domain/resume.js'
import type { Message } from '../../src/schemas/message.js'

// The hand-over from backlog to live, made deterministic: the backlog read is held open while live
// messages are published, which a real database answers too fast to show.

/** Records what would go over the wire; the unit under test is the connection and the resume. */
function fakeSocket() {
  const written: Array<Record<string, unknown>> = []
  const socket = {
    OPEN: 1,
    readyState: 1,
    send: (data: Buffer) => written.push(JSON.parse(data.toString()) as Record<string, unknown>),
  }
  return { socket: socket as unknown as WebSocket, written }
}

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

t.test('live messages published during the backlog read come after it, each once', async (t) => {
  const hub = new LocalHub()
  const { socket, written } = fakeSocket()
  const connection = new SocketConnection(7, 'jti', socket)
  let answer: (messages: Message[]) => void = () => undefined
  const backlog: BacklogStore = { backlog: () => new Promise((resolve) => (answer = resolve)) }

  connection.beginResume() // as the socket route does, before attaching
  hub.attach(connection)
  const resuming = replayMissed(backlog, connection, 10)
  // Stored while the backlog is being read: 13 made it into the backlog, 14 and 15 did not.
  hub.publish([7], groupMessageFrame(message(13)))
  hub.publish([7], { type: 'typing', group_id: 1, user_id: 2, state: 'start' })
  hub.publish([7], groupMessageFrame(message(14)))
  t.same(written, [], 'nothing overtakes the backlog')
  answer([message(11), message(12), message(13)])
  await resuming
  hub.publish([7], groupMessageFrame(message(15)))
  connection.endResume()
  hub.publish([7], groupMessageFrame(message(16)))

  t.same(
    written.map((frame) =>
      frame.type === 'group_message' ? frame.id : `${String(frame.type)}:${String(frame.code ?? frame.state)}`,
    ),
    [11, 12, 13, 'system:RESUME_COMPLETE', 'typing:start', 14, 15, 16],
  )
})

t.test('a message replayed from the backlog is not sent again by a later live publish during the resume', async (t) => {
  const hub = new LocalHub()
  const { socket, written } = fakeSocket()
  const connection = new SocketConnection(7, 'jti', socket)
  connection.beginResume()
  hub.attach(connection)
  await replayMissed({ backlog: async () => [message(21)] }, connection, 20)
  hub.publish([7], groupMessageFrame(message(21))) // its publish was still on its way
  connection.endResume()
  t.same(
    written.filter((frame) => frame.type === 'group_message').map((frame) => frame.id),
    [21],
  )
})
