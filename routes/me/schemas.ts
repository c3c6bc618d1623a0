import { Type } from '@sinclair/typebox'
import { errorResponses } from '../../src/schemas/common.js'
import { User } from '../../src/schemas/user.js'
import { register } from '../users/schemas.js'

const bearer = [{ bearerAuth: [] }]

export const getMe = {
  tags: ['users'],
  summary: 'Get my account',
  operationId: 'getMe',
  description: 'The user the token belongs to.',
  security: bearer,
  response: { 200: User, ...errorResponses(401) },
}

export const updateMe = {
  tags: ['users'],
  summary: 'Change my username or password',
  operationId: 'updateMe',
  description:
    'Changes `username` and/or `password`, nothing else (any other field is a 400). A new username follows the ' +
    'rules of registration and is unique case-insensitively (409 `USERNAME_TAKEN`). A new password needs ' +
    '`current_password` (400 when missing, 403 `WRONG_PASSWORD` when wrong) and follows the rules of ' +
    'registration (400 `WEAK_PASSWORD` when easy to guess); `current_password` is checked whenever it is given, ' +
    'and every request that gives it counts against a per-user limit (default 10 per 5 minutes; past it 429 ' +
    '`RATE_LIMITED` with `Retry-After`). Either everything asked for changes or nothing does. A new password revokes every ' +
    'other token of yours (401 `TOKEN_REVOKED` from then on; their sockets close with 4003); the token used ' +
    'for the change stays valid.',
  security: bearer,
  body: Type.Object(
    {
      username: Type.Optional(register.body.properties.username),
      password: Type.Optional(register.body.properties.password),
      current_password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    },
    // A schema rather than `false`: the shared validator strips properties that `false` forbids, and
    // an unknown field (say `email`) must be refused, not silently ignored.
    { additionalProperties: Type.Never({ description: 'Only username, password and current_password.' }) },
  ),
  response: { 200: User, ...errorResponses(400, 401, 403, 409, 413, 415, 429) },
}
