import { Type, type Static } from '@sinclair/typebox'
import { Id, Timestamp } from './common.js'
import { Message, MessageInputFields } from './message.js'

// The socket protocol. Client frames are validated against these schemas (compiled once);
// server frames are documented by them and checked against them in the tests. Each schema's
// `description` is what the AsyncAPI document (`/asyncapi.json`) says about the frame.

const Ref = Type.Optional(
  Type.Union([Type.String({ maxLength: 128 }), Type.Integer()], {
    description: 'Chosen by the client; the `ack` or `error` answering this frame echoes it.',
  }),
)

export const PingIn = Type.Object(
  { type: Type.Literal('ping'), ref: Ref },
  { description: 'Asks the server for a `pong`, to check that the socket is alive.' },
)

/** Replays what the client missed after `since` (the last message id it saw), then goes on live. */
export const ResumeIn = Type.Object(
  {
    type: Type.Literal('resume'),
    ref: Ref,
    since: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  },
  {
    description:
      'Replays every message stored after `since` (the id of the last message you saw) in all your ' +
      'conversations, in id order, then a `system` frame RESUME_COMPLETE; answered with an `ack` carrying `replayed`.',
  },
)

const { type: _kindAlias, ...messageFields } = MessageInputFields
export const GroupMessageIn = Type.Object(
  {
    type: Type.Literal('group_message'),
    ref: Ref,
    group_id: Id(),
    ...messageFields,
  },
  {
    description: 'Sends a message to a group you are a member of; answered with `ack {message, duplicate}` or `error`.',
  },
)
export type GroupMessageIn = Static<typeof GroupMessageIn>

/** The fields every message frame carries: the stored message without the per-conversation and history-only ones. */
export const MessageFrameFields = Type.Omit(Message, ['group_id', 'recipient_id', 'status', 'reactions'])

export const GroupMessageOut = Type.Composite(
  [Type.Object({ type: Type.Literal('group_message'), group_id: Id() }), MessageFrameFields],
  {
    description:
      'A message stored in one of your groups (also one sent over REST, and your own), to every socket of every member.',
  },
)
export type GroupMessageOut = Static<typeof GroupMessageOut>

/** What the conversation of a `read` marker is: exactly one of `group_id` and `user_id`. */
const ReadMarkerFields = {
  group_id: Type.Optional(Id('The group, for a group conversation.')),
  user_id: Type.Optional(Id('The other user, for a direct conversation.')),
  message_id: Type.Integer({ minimum: 0, description: 'The read marker after the move: the newest message id read.' }),
}

export const AckOut = Type.Object(
  {
    type: Type.Literal('ack'),
    ref: Ref,
    message: Type.Optional(Message),
    duplicate: Type.Optional(
      Type.Boolean({ description: 'True when a retried `client_msg_id` matched a stored message.' }),
    ),
    read: Type.Optional(Type.Object(ReadMarkerFields, { description: 'Answering a `read` frame: the marker now.' })),
    replayed: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Answering a `resume` frame: how many missed messages were replayed.' }),
    ),
    truncated: Type.Optional(
      Type.Boolean({
        description:
          'Answering a `resume` frame: true when more than the resume limit was missed and none was replayed.',
      }),
    ),
  },
  {
    description:
      'Your frame was handled. After a `group_message` or `direct_message`: the stored `message` (and `duplicate`); ' +
      'after a `read`: `read`; after a `resume`: `replayed` and `truncated`; after a `typing` with a `ref`: nothing more.',
  },
)

export const ErrorOut = Type.Object(
  {
    type: Type.Literal('error'),
    ref: Ref,
    code: Type.String({
      description: 'A stable code: the REST codes, plus INVALID_JSON, INVALID_FRAME, UNKNOWN_FRAME, …',
    }),
    error: Type.String({ description: 'A human sentence.' }),
    retry_after_ms: Type.Optional(
      Type.Integer({ minimum: 0, description: 'With RATE_LIMITED: how long to wait before the next frame.' }),
    ),
  },
  {
    description:
      'A frame was refused (with its `ref`), or the socket is about to close (TOKEN_EXPIRED, TOKEN_REVOKED, no `ref`). ' +
      'The socket stays open unless a close follows.',
  },
)

export const PongOut = Type.Object(
  { type: Type.Literal('pong'), ref: Ref, timestamp: Timestamp() },
  { description: 'The answer to a `ping`.' },
)

export const SystemOut = Type.Union(
  [
    Type.Object({
      type: Type.Literal('system'),
      code: Type.Literal('RESUME_COMPLETE'),
      content: Type.String(),
      since: Type.Integer({ minimum: 0 }),
      replayed: Type.Integer({ minimum: 0, description: 'How many missed messages were replayed.' }),
      last_id: Type.Integer({ minimum: 0, description: 'The newest message id replayed (`since` when none).' }),
    }),
    Type.Object({
      type: Type.Literal('system'),
      code: Type.Literal('RESUME_LIMIT_EXCEEDED'),
      content: Type.String(),
      since: Type.Integer({ minimum: 0 }),
      limit: Type.Integer({ minimum: 1, description: 'The resume limit: page through history instead.' }),
    }),
  ],
  {
    description:
      'From the server itself: RESUME_COMPLETE after the missed messages of a resume (then live frames follow), or ' +
      'RESUME_LIMIT_EXCEEDED when more than the resume limit was missed and none was replayed.',
  },
)
export type SystemOut = Static<typeof SystemOut>

export const MessageUpdatedOut = Type.Composite([Type.Object({ type: Type.Literal('message_updated') }), Message], {
  description: 'A message in one of your conversations was edited: the message as it is now.',
})

export const MessageDeletedOut = Type.Object(
  {
    type: Type.Literal('message_deleted'),
    id: Id(),
    group_id: Type.Optional(Id('Set for a group message.')),
    recipient_id: Type.Optional(Id('Set for a direct message.')),
    sender_id: Id(),
  },
  { description: 'A message in one of your conversations was deleted; history keeps it as a tombstone.' },
)

export const ReactionOut = Type.Object(
  {
    type: Type.Literal('reaction'),
    message_id: Id(),
    emoji: Type.String(),
    user_id: Id('Who reacted.'),
    action: Type.Union([Type.Literal('added'), Type.Literal('removed')]),
  },
  { description: 'Someone added or removed a reaction to a message in one of your conversations.' },
)
