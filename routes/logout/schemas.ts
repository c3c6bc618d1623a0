import { Type } from '@sinclair/typebox'
import { errorResponses } from '../../src/schemas/common.js'

export const logout = {
  tags: ['users'],
  summary: 'Log out: revoke this token',
  operationId: 'logout',
  description:
    'Revokes the token the request carries: from then on it gets 401 `TOKEN_REVOKED` on every route and at the ' +
    'socket upgrade, and every socket opened with it is closed with code 4003 (reason `TOKEN_REVOKED`, after an ' +
    '`error` frame with that code). Your other tokens keep working. The revocation is stored, so it survives a ' +
    'restart and holds on every server process sharing the database (the others apply it within ' +
    '`REVOCATION_SYNC_MS`). No body.',
  security: [{ bearerAuth: [] }],
  response: {
    200: Type.Object({ message: Type.String({ examples: ['Logged out.'] }) }),
    ...errorResponses(401),
  },
}
