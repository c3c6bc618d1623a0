/**
 * A refusal the domain knows how to explain. The error handler turns it into
 * `{error, code, statusCode}`; the socket turns it into an `error` frame with the same code.
 */
export class ChatError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    /** When to try again, in seconds (`Retry-After`), for a refusal that passes by itself. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message)
    this.name = 'ChatError'
  }
}

export const badRequest = (code: string, message: string) => new ChatError(400, code, message)
export const unauthorized = (code: string, message: string) => new ChatError(401, code, message)
export const forbidden = (code: string, message: string) => new ChatError(403, code, message)
export const notFound = (code: string, message: string) => new ChatError(404, code, message)
export const conflict = (code: string, message: string) => new ChatError(409, code, message)
export const tooManyRequests = (message: string) => new ChatError(429, 'RATE_LIMITED', message)
/** The server cannot do it now (shutting down, its database busy or unreachable); the same request may work later. */
export const serviceUnavailable = (code: string, message: string, retryAfterSeconds: number) =>
  new ChatError(503, code, message, retryAfterSeconds)

export const userNotFound = () => notFound('USER_NOT_FOUND', 'No user has that id.')
export const groupNotFound = () => notFound('GROUP_NOT_FOUND', 'No group has that id.')
export const notAMember = () => forbidden('NOT_A_MEMBER', 'You are not a member of this group.')
export const groupFull = (maxMembers: number) =>
  conflict('GROUP_FULL', `The group is full: a group holds at most ${maxMembers} members.`)
