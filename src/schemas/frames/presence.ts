import { Type, type Static } from '@sinclair/typebox'
import { Id } from '../common.js'

/** Server → the user's contacts: they came online or went offline. */
export const PresenceOut = Type.Object(
  { type: Type.Literal('presence'), user_id: Id(), online: Type.Boolean() },
  {
    description:
      'A user you share a conversation with opened their first socket (`online: true`) or closed their last.',
  },
)
export type PresenceOut = Static<typeof PresenceOut>
