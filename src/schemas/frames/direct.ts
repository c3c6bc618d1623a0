import { Type, type Static } from '@sinclair/typebox'
import { Id } from '../common.js'
import { DeliveryStatus } from '../message.js'
import { clientFrame, ClientMessageFields, MessageFrameFields } from './common.js'

// Direct messages and their delivery state.

export const DirectMessageIn = clientFrame(
  'direct_message',
  { recipient_id: Id(), ...ClientMessageFields },
  'Sends a direct message to another user; answered with `ack {message, duplicate}` or `error`.',
)
export type DirectMessageIn = Static<typeof DirectMessageIn>

/** Server → client: a stored direct message, to the recipient's sockets and the sender's other ones. */
export const DirectMessageOut = Type.Composite(
  [
    Type.Object({ type: Type.Literal('direct_message'), recipient_id: Id(), status: DeliveryStatus }),
    MessageFrameFields,
  ],
  {
    description:
      'A direct message stored between you and another user, with its delivery `status`: to every socket of the ' +
      'recipient (on connect for one that was PENDING) and to the sender’s other sockets.',
  },
)
export type DirectMessageOut = Static<typeof DirectMessageOut>

/** Server → the sender's sockets: a direct message's delivery state changed. */
export const MessageStatusOut = Type.Object(
  {
    type: Type.Literal('message_status'),
    id: Id(),
    status: DeliveryStatus,
    recipient_id: Id(),
  },
  { description: 'The delivery state of a direct message you sent changed (DELIVERED, READ).' },
)
export type MessageStatusOut = Static<typeof MessageStatusOut>
