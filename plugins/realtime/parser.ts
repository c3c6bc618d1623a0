import type { Realtime, RegisteredFrame } from '../../plugins/realtime.js'

export type ParsedFrame =
  | { ok: true; frame: Record<string, unknown>; handler: RegisteredFrame; ref: string | number | undefined }
  | { ok: false; code: string; error: string; ref: string | number | undefined }

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const refOf = (value: Record<string, unknown>) =>
  (typeof value.ref === 'string' && value.ref.length <= 128) || Number.isSafeInteger(value.ref)
    ? (value.ref as string | number)
    : undefined

/** Parses one client frame and validates it against the compiled schema registered for its `type`. */
export function parseClientFrame(realtime: Realtime, text: string): ParsedFrame {
  let value: unknown
  try {
    value = JSON.parse(text)
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
