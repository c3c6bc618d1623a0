import { Type } from '@sinclair/typebox'
import { errorResponses } from '../../src/schemas/common.js'

/** The socket's query string; `/asyncapi.json` publishes it as the channel's WebSocket binding. */
export const SocketQuery = Type.Object({
  token: Type.Optional(
    Type.String({
      maxLength: 4096,
      description: 'Your JWT (from register or login). Missing, invalid, expired or revoked: 401 before the upgrade.',
    }),
  ),
  since: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description:
        'Resume: the id of the last message you saw. Everything you missed since, in all your conversations, ' +
        'is sent first in id order (then a `system` frame with code RESUME_COMPLETE), then live frames, with no ' +
        'gap and no duplicate. More than the resume limit missed: a `system` frame RESUME_LIMIT_EXCEEDED instead.',
    }),
  ),
})

export const openSocket = {
  tags: ['realtime'],
  summary: 'Open the realtime socket',
  operationId: 'openSocket',
  description:
    'Upgrade to a WebSocket. The token goes in the query string; a missing, invalid, expired or foreign token ' +
    'is refused with 401 before the upgrade, and a socket more than a user may have open with 429. Frames are ' +
    'JSON text: every message stored in one of your conversations arrives as a `group_message` or ' +
    '`direct_message` frame; each frame you send may carry a `ref` that the `ack`/`error`/`pong` reply echoes. ' +
    'Every frame both ways is described by the AsyncAPI document at `asyncapi.json` beside this route ' +
    '(`GET /asyncapi.json`).',
  querystring: SocketQuery,
  response: {
    101: Type.Null({ description: 'Switching to the WebSocket protocol.' }),
    ...errorResponses(400, 401, 426, 429),
  },
}
