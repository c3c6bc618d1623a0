import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyLoggerOptions,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify'
import type { DestinationStream } from 'pino'
import { STANDALONE, type ChatServerOptions } from './options.js'
import { chatServer } from './plugin.js'
import { redactUrl } from './redact.js'

export { redactUrl }

export interface BuildAppOptions extends ChatServerOptions {
  /** Fastify's logger: off by default; `true` or options turn it on, always with secrets redacted. */
  logger?: boolean | (FastifyLoggerOptions & { stream?: DestinationStream })
}

/** An incoming `x-request-id` is kept when it is 1 to 128 of these characters (no spaces, quotes or newlines). */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * The request's id, which every log line of the request carries (`reqId`) and the response echoes in
 * `x-request-id`: the caller's `x-request-id` when it is safe to log, else a new UUID.
 */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers['x-request-id']
  return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID()
}

/** Log serializers that keep secrets out: no headers at all, and the URL without its token. */
export const requestSerializers = {
  req(request: { method: string; url: string; hostname?: string; ip?: string; id?: string }) {
    return { method: request.method, url: redactUrl(request.url), host: request.hostname, remoteAddress: request.ip }
  },
}

/** A Fastify app with the chat server registered at the root, ready to `listen` or `inject`. */
export async function buildApp(options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const { logger = false, ...chatOptions } = options
  const app = Fastify({
    logger: logger === false ? false : { ...(logger === true ? {} : logger), serializers: requestSerializers },
    genReqId: requestIdOf,
    // The chat server answers requests that arrive while it closes itself, with a code (plugins/shutdown.ts).
    return503OnClosing: false,
    // Errors the router raises before any plugin runs (a malformed URL, an over-long path parameter)
    // get the same body as every other error.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      const statusCode: number = error.statusCode ?? 400
      const code = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'PARAM_TOO_LONG' : 'BAD_URL'
      void reply.code(statusCode).send({ error: error.message, code, statusCode })
    },
  })
  await app.register(chatServer, { ...chatOptions, [STANDALONE]: true })
  return app
}
