import { Type, type Static, type TSchema } from '@sinclair/typebox'

/** `T` or JSON null; rendered as `anyOf` so OpenAPI 3.1 and the serializer agree. */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

/** A positive integer id, as used for users, groups and messages. */
export const Id = (description?: string) =>
  Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, ...(description ? { description } : {}) })

/** An ISO-8601 UTC time string such as `2025-10-24T05:23:00.000Z`. */
export const Timestamp = (description?: string) =>
  Type.String({ format: 'date-time', ...(description ? { description } : {}) })

/** The body of every non-2xx response. */
export const ErrorBody = Type.Object(
  {
    error: Type.String({ description: 'A human sentence saying what went wrong.' }),
    code: Type.String({ description: 'A stable machine-readable code, e.g. NOT_A_MEMBER.' }),
    statusCode: Type.Integer({ minimum: 400, maximum: 599 }),
  },
  { title: 'Error' },
)
export type ErrorBody = Static<typeof ErrorBody>

/** What each error status means, as the OpenAPI document describes it. */
const ERROR_MEANINGS: Record<number, string> = {
  400: 'The request is malformed, or a field is invalid (the message names it).',
  401: 'No token, or an invalid, expired or revoked one; or, when logging in, wrong credentials.',
  403: 'Authenticated, but not allowed to do this.',
  404: 'No such user, group or message, or one the caller cannot see.',
  409: 'It conflicts with the current state.',
  413: 'The body is larger than the limit (64 KiB by default).',
  414: 'A path parameter is too long.',
  415: 'The body is not `application/json`.',
  426: 'This endpoint speaks WebSocket: send an upgrade request.',
  429: 'Too many requests or sockets: retry after the `Retry-After` header’s seconds.',
  500: 'The server failed; the details are logged, never sent.',
  503:
    'Not now: the server is shutting down (SHUTTING_DOWN), or its database is locked by another writer ' +
    '(DATABASE_BUSY) or does not answer in time (DATABASE_UNAVAILABLE). Retry after the ' +
    '`Retry-After` header’s seconds, on this or another instance (a send retried with its `client_msg_id` is ' +
    'stored once).',
}

/** Response schemas for the given error statuses, all with the shared error body. */
export function errorResponses<const S extends readonly number[]>(...statuses: S) {
  const responses = {} as Record<S[number], typeof ErrorBody>
  for (const status of statuses) {
    const description = ERROR_MEANINGS[status]
    responses[status as S[number]] = description
      ? Type.Object(ErrorBody.properties, { title: 'Error', description })
      : ErrorBody
  }
  return responses
}
