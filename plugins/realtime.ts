import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import fp from 'fastify-plugin'
import type { OutgoingFrame } from '../src/domain/ports.js'
import type { SocketConnection } from './hub/connection.js'
import './types.js'

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
