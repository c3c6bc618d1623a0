import { FormatRegistry, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import type { Format } from 'ajv'
import { fullFormats } from 'ajv-formats/dist/formats.js'
import fp from 'fastify-plugin'
import type { OutgoingFrame } from '../src/domain/ports.js'
import type { SocketConnection } from './hub/connection.js'
import './types.js'

/** A string format check, from the same implementations the HTTP validator (ajv-formats) uses. */
function formatCheck(format: Format): (value: string) => boolean {
  if (format === true) return () => true
  if (format instanceof RegExp) return (value) => format.test(value)
  if (typeof format === 'function') return (value) => format(value) === true
  if (typeof format === 'string') return (value) => new RegExp(format).test(value)
  const validate = format.validate
  if (validate instanceof RegExp) return (value) => validate.test(value)
  return (value) => typeof validate === 'function' && validate(value as never) === true
}

// Socket frames are checked by TypeBox, which knows no string formats until they are registered:
// register the ones frame schemas use, so `media_url` is checked the same way over REST and the socket.
for (const name of ['uri', 'date-time', 'email'] as const) {
  if (!FormatRegistry.Has(name)) FormatRegistry.Set(name, formatCheck(fullFormats[name]))
}

/** Answers a client frame: the frame to send back (with the client's `ref` added), or nothing. */
export type FrameHandler<S extends TSchema> = (
  frame: Static<S>,
  connection: SocketConnection,
) => Promise<OutgoingFrame | undefined> | OutgoingFrame | undefined

export interface RegisteredFrame {
  schema: TSchema
  check: TypeCheck<TSchema>
  handle: FrameHandler<TSchema>
}

/** Runs when a socket opens (after it is attached to the hub) or closes. */
export type ConnectionListener = (connection: SocketConnection) => Promise<void> | void

/**
 * The socket protocol's registry. Each route plugin registers the client frames of its concern
 * (schema compiled once, handler beside it) and the work to do when sockets open or close; the
 * socket route dispatches to them.
 */
export class Realtime {
  readonly frames = new Map<string, RegisteredFrame>()
  readonly connectListeners: ConnectionListener[] = []
  readonly disconnectListeners: ConnectionListener[] = []

  frame<S extends TSchema>(type: string, schema: S, handle: FrameHandler<S>): void {
    if (this.frames.has(type)) throw new Error(`socket frame "${type}" is registered twice`)
    this.frames.set(type, { schema, check: TypeCompiler.Compile(schema), handle: handle as FrameHandler<TSchema> })
  }

  onConnect(listener: ConnectionListener): void {
    this.connectListeners.push(listener)
  }

  onDisconnect(listener: ConnectionListener): void {
    this.disconnectListeners.push(listener)
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    realtime: Realtime
  }
}

/** `fastify.realtime`: where route plugins register socket frames and connection listeners. */
export default fp(
  async (fastify) => {
    fastify.decorate('realtime', new Realtime())
  },
  { name: 'chatserver-realtime' },
)
