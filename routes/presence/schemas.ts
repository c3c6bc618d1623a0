import { Type } from '@sinclair/typebox'
import { errorResponses, Id } from '../../src/schemas/common.js'

export const getPresence = {
  tags: ['users'],
  summary: 'Is a user online?',
  operationId: 'getPresence',
  description:
    'Online while any of their sockets is open. Visible for yourself and for users who share a group or a ' +
    'direct conversation with you (403 NOT_A_CONTACT otherwise).',
  security: [{ bearerAuth: [] }],
  params: Type.Object({ userID: Id() }),
  response: {
    200: Type.Object({ user_id: Id(), online: Type.Boolean() }),
    ...errorResponses(400, 401, 403, 404),
  },
}

/** Server → the user's contacts: they came online or went offline. */
export const PresenceOut = Type.Object(
  { type: Type.Literal('presence'), user_id: Id(), online: Type.Boolean() },
  {
    description:
      'A user you share a conversation with opened their first socket (`online: true`) or closed their last.',
  },
)
