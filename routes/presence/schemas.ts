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
