import { Type, type TProperties } from '@sinclair/typebox'
import { Message, MessageInputFields } from '../message.js'

// What the frames of several concerns share.

/** The longest string `ref` a frame may carry. */
export const MAX_REF_LENGTH = 128

/** The `ref` a client may put on any frame it sends; the `ack` or `error` answering the frame echoes it. */
export const Ref = Type.Optional(
  Type.Union([Type.String({ maxLength: MAX_REF_LENGTH }), Type.Integer()], {
    description: 'Chosen by the client; the `ack` or `error` answering this frame echoes it.',
  }),
)

const { type: _kindAlias, ...clientMessageFields } = MessageInputFields
/** What a client frame that sends a message carries besides its `type`, `ref` and conversation (`kind`, not `type`). */
export const ClientMessageFields = clientMessageFields

/** The fields every message frame carries: the stored message without the per-conversation and history-only ones. */
export const MessageFrameFields = Type.Omit(Message, ['group_id', 'recipient_id', 'status', 'reactions'])

/** A frame a client sends: its `type`, the optional `ref`, its own fields, and what it does (`description`). */
export const clientFrame = <T extends string, P extends TProperties>(type: T, properties: P, description: string) =>
  Type.Object({ type: Type.Literal(type), ref: Ref, ...properties }, { description })
