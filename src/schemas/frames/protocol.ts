import { Type, type Static } from '@sinclair/typebox'
import { Timestamp } from '../common.js'
import { Message } from '../message.js'
import { ConversationFields } from '../chat.js'
import { clientFrame, Ref } from './common.js'

// The frames of the socket protocol itself: ping/pong, resume, and the answers to any client frame.

export const PingIn = clientFrame('ping', {}, 'Asks the server for a `pong`, to check that the socket is alive.')

/** Replays what the client missed after `since` (the last message id it saw), then goes on live. */
export const ResumeIn = clientFrame(
  'resume',
  { since: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }) },
  'Replays every message stored after `since` (the id of the last message you saw) in all your ' +
    'conversations, in id order, then a `system` frame RESUME_COMPLETE; answered with an `ack` carrying `replayed`.',
)

export const AckOut = Type.Object(
  {
    type: Type.Literal('ack'),
    ref: Ref,
    message: Type.Optional(Message),
    duplicate: Type.Optional(
      Type.Boolean({ description: 'True when a retried `client_msg_id` matched a stored message.' }),
    ),
    read: Type.Optional(
      Type.Object(
        {
          ...ConversationFields,
          message_id: Type.Integer({
            minimum: 0,
            description: 'The read marker after the move: the newest message id read.',
          }),
        },
        { description: 'Answering a `read` frame: the marker now.' },
      ),
    ),
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
export type AckOut = Static<typeof AckOut>

export const ErrorOut = Type.Object(
  {
    type: Type.Literal('error'),
    ref: Ref,
    code: Type.String({
      description:
        'A stable code: the REST codes, plus INVALID_JSON, INVALID_FRAME, UNKNOWN_FRAME, RATE_LIMITED (over the ' +
        'send budget or the frame rate, with `retry_after_ms`), RESUME_IN_PROGRESS (a `resume` while one runs), …',
    }),
    error: Type.String({ description: 'A human sentence.' }),
    retry_after_ms: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'With RATE_LIMITED: how long, in ms, to wait before the frame can be handled.',
      }),
    ),
  },
  {
    description:
      'A frame was refused (with its `ref`), or the socket is about to close (TOKEN_EXPIRED, TOKEN_REVOKED, no `ref`). ' +
      'The socket stays open unless a close follows.',
  },
)
export type ErrorOut = Static<typeof ErrorOut>

export const PongOut = Type.Object(
  { type: Type.Literal('pong'), ref: Ref, timestamp: Timestamp() },
  { description: 'The answer to a `ping`.' },
)
export type PongOut = Static<typeof PongOut>

/** What every `system` frame of a resume carries besides its code. */
const resumeSystemFields = { type: Type.Literal('system'), content: Type.String(), since: Type.Integer({ minimum: 0 }) }

export const SystemOut = Type.Union(
  [
    Type.Object({
      ...resumeSystemFields,
      code: Type.Literal('RESUME_COMPLETE'),
      replayed: Type.Integer({ minimum: 0, description: 'How many missed messages were replayed.' }),
      last_id: Type.Integer({ minimum: 0, description: 'The newest message id replayed (`since` when none).' }),
    }),
    Type.Object({
      ...resumeSystemFields,
      code: Type.Literal('RESUME_LIMIT_EXCEEDED'),
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
