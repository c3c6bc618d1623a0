import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import type { TSchema } from '@sinclair/typebox'
import { ClientFrames, type ClientFrameType } from '../../src/schemas/frames.js'

const validators = Object.fromEntries(
  Object.entries(ClientFrames).map(([type, schema]) => [type, TypeCompiler.Compile(schema as TSchema)]),
) as Record<ClientFrameType, TypeCheck<TSchema>>

export type ParsedFrame =
  | { ok: true; frame: { type: ClientFrameType } & Record<string, unknown>; ref: string | number | undefined }
  | { ok: false; code: string; error: string; ref: string | number | undefined }

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const refOf = (value: Record<string, unknown>) =>
  (typeof value.ref === 'string' && value.ref.length <= 128) || Number.isSafeInteger(value.ref)
    ? (value.ref as string | number)
    : undefined

/** Parses and validates one client frame against the compiled schema of its `type`. */
export function parseClientFrame(text: string): ParsedFrame {
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
  const type = value.type
  if (typeof type !== 'string' || !Object.hasOwn(validators, type)) {
    const known = Object.keys(validators).join(', ')
    return { ok: false, code: 'UNKNOWN_FRAME', error: `Unknown frame type; expected one of: ${known}.`, ref }
  }
  const validator = validators[type as ClientFrameType]
  if (!validator.Check(value)) {
    const first = validator.Errors(value).First()
    const where = first?.path ? `${first.path.slice(1).replaceAll('/', '.')}: ` : ''
    return { ok: false, code: 'VALIDATION_ERROR', error: `${where}${first?.message ?? 'invalid frame'}`, ref }
  }
  return { ok: true, frame: value as { type: ClientFrameType } & Record<string, unknown>, ref }
}
