import { FormatRegistry, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import type { Format } from 'ajv'
import { fullFormats } from 'ajv-formats/dist/formats.js'
import type { ClientFrames, ServerFrame, ServerFrameType } from '../../src/schemas/frames/index.js'
import type { SocketConnection } from './connection.js'

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
) => Promise<ServerFrame | undefined> | ServerFrame | undefined

export interface RegisteredFrame {
  schema: TSchema
  check: TypeCheck<TSchema>
  handle: FrameHandler<TSchema>
}

/** Runs when a socket opens (after it is attached to the hub) or closes. */
export type ConnectionListener = (connection: SocketConnection) => Promise<void> | void

/** The `type` literal(s) a frame schema declares: one for an object, one per variant for a union. */
function declaredTypes(schema: TSchema): unknown[] {
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as TSchema[]).flatMap(declaredTypes)
  const properties = schema.properties as Record<string, TSchema> | undefined
  return [properties?.type?.const]
}

/**
 * The socket protocol's registry. Each route plugin registers the client frames of its concern
 * (schema compiled once, handler beside it), the server frames it sends, and the work to do when
 * sockets open or close; the socket route dispatches to them and `/asyncapi.json` describes them.
 */
export class Realtime {
  readonly frames = new Map<string, RegisteredFrame>()
  /** Every frame type the server sends, with its schema (whose `description` documents it). */
  readonly serverFrames = new Map<string, TSchema>()
  readonly connectListeners: ConnectionListener[] = []
  readonly disconnectListeners: ConnectionListener[] = []

  /** Registers a client frame: `schema` validates it (its `description` documents it), `handle` answers it. */
  frame<S extends TSchema>(type: keyof ClientFrames, schema: S, handle: FrameHandler<S>): void {
    if (this.frames.has(type)) throw new Error(`socket frame "${type}" is registered twice`)
    this.frames.set(type, { schema, check: TypeCompiler.Compile(schema), handle: handle as FrameHandler<TSchema> })
  }

  /**
   * Registers a frame the server sends, for the AsyncAPI document and the tests that hold what is sent to it.
   * The schema must declare `type` as this literal and carry a `description`.
   */
  serverFrame(type: ServerFrameType, schema: TSchema): void {
    if (this.serverFrames.has(type)) throw new Error(`server frame "${type}" is registered twice`)
    if (!declaredTypes(schema).every((declared) => declared === type)) {
      throw new Error(`server frame "${type}": its schema must declare type: "${type}"`)
    }
    if (typeof schema.description !== 'string') throw new Error(`server frame "${type}" needs a description`)
    this.serverFrames.set(type, schema)
  }

  /** Registers frames the server sends, each under the `type` its schema declares (see `serverFrame`). */
  sends(...schemas: TSchema[]): void {
    for (const schema of schemas) {
      const [type] = declaredTypes(schema)
      if (typeof type !== 'string') throw new Error('a server frame schema must declare its `type` as a literal')
      this.serverFrame(type as ServerFrameType, schema)
    }
  }

  onConnect(listener: ConnectionListener): void {
    this.connectListeners.push(listener)
  }

  onDisconnect(listener: ConnectionListener): void {
    this.disconnectListeners.push(listener)
  }
}
