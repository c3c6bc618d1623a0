/** A non-2xx answer of the REST API, with the fields of its error body. */
export class ChatApiError extends Error {
  override readonly name = 'ChatApiError'
  /** The HTTP status, e.g. 404. */
  readonly statusCode: number
  /** The stable code, e.g. `NOT_A_MEMBER` (`HTTP_ERROR` when the body was not the server's error body). */
  readonly code: string
  /** The server's sentence saying what went wrong (also the `message`). */
  readonly error: string
  /** With 429: seconds to wait, from `Retry-After`. */
  readonly retryAfter: number | undefined

  constructor(statusCode: number, code: string, error: string, retryAfter?: number) {
    super(error)
    this.statusCode = statusCode
    this.code = code
    this.error = error
    this.retryAfter = retryAfter
  }
}

/**
 * A socket request that did not succeed: an `error` frame answering it (its `code`, e.g. `NOT_A_MEMBER`), or
 * one of the client's own codes: `TIMEOUT` (no answer in time), `DISCONNECTED` (the socket dropped before an
 * answer to a request that is not re-sent), `SOCKET_CLOSED` (the socket was closed for good), `FRAME_TOO_LARGE`.
 */
export class ChatSocketError extends Error {
  override readonly name = 'ChatSocketError'
  readonly code: string
  /** The server's sentence, or the client's. */
  readonly error: string
  /** With RATE_LIMITED: how long to wait before the next frame. */
  readonly retryAfterMs: number | undefined
  /** The `client_msg_id` of a message send, so it can be retried without being stored twice. */
  readonly clientMsgId: string | undefined

  constructor(code: string, error: string, details: { retryAfterMs?: number; clientMsgId?: string } = {}) {
    super(error)
    this.code = code
    this.error = error
    this.retryAfterMs = details.retryAfterMs
    this.clientMsgId = details.clientMsgId
  }
}
