import type { RawData } from 'ws'
import { MAX_REF_LENGTH } from '../../src/schemas/frames/index.js'
import type { Realtime, RegisteredFrame } from './registry.js'

/** A client's `ref`, echoed on the answer to its frame. */
export type FrameRef = string | number

export type ParsedFrame =
  | { ok: true; frame: Record<string, unknown>; handler: RegisteredFrame; ref: FrameRef | undefined }
  | { ok: false; code: string; error: string; ref: FrameRef | undefined }

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** The frame's `ref` when it is one the server echoes (a short string or a safe integer). */
const refOf = (value: Record<string, unknown>): FrameRef | undefined =>
  (typeof value.ref === 'string' && value.ref.length <= MAX_REF_LENGTH) || Number.isSafeInteger(value.ref)
    ? (value.ref as FrameRef)
    : undefined

/**
 * Parses one client frame — the one place a frame's bytes are read — and validates it against the
 * compiled schema registered for its `type`. Refused frames keep their `ref` where one could be read.
 */
export function parseClientFrame(realtime: Realtime, data: RawData | string, isBinary = false): ParsedFrame {
  if (isBinary)
    return { ok: false, code: 'INVALID_FRAME', error: 'Frames must be JSON text, not binary.', ref: undefined }
  let value: unknown
  try {
    value = JSON.parse(data.toString())
  } catch {
    return { ok: false, code: 'INVALID_JSON', error: 'The frame is not valid JSON.', ref: undefined }
  }
  if (!isRecord(value)) {
    return { ok: false, code: 'INVALID_FRAME', error: 'A frame must be a JSON object with a "type".', ref: undefined }
  }
  const ref = refOf(value)
  const handler = typeof value.type === 'string' ? realtime.frames.get(value.type) : undefined
  if (!handler) {
    const known = [...realtime.frames.keys()].join(', ')
    return { ok: false, code: 'UNKNOWN_FRAME', error: `Unknown frame type; expected one of: ${known}.`, ref }
  }
  if (!handler.check.Check(value)) {
    const first = handler.check.Errors(value).First()
    const where = first?.path ? `${first.path.slice(1).replaceAll('/', '.')}: ` : ''
    return { ok: false, code: 'VALIDATION_ERROR', error: `${where}${first?.message ?? 'invalid frame'}`, ref }
  }
  return { ok: true, frame: value, handler, ref }
}
