import type { TypingOut } from '../schemas/frames/index.js'
import { conversationOf, otherParticipants, type Conversation, type ConversationRef } from './chats.js'
import type { GroupStore, Hub, UserStore } from './ports.js'

/** How long a `start` lasts without a renewal before the server announces `stop` by itself. */
const TYPING_TTL_MS = 6_000
/** A sender's repeated `start`s into one conversation are forwarded at most this often. */
const TYPING_THROTTLE_MS = 2_000

interface TypingEntry {
  lastForwarded: number
  expiry: NodeJS.Timeout
}

/**
 * Who is typing where, in memory only (typing is never stored). Decides which `start`/`stop`
 * frames are worth forwarding and expires a `start` that is not renewed.
 */
export class TypingTracker {
  private readonly entries = new Map<string, TypingEntry>()

  constructor(
    private readonly onExpire: (key: string) => void,
    private readonly ttlMs = TYPING_TTL_MS,
    private readonly throttleMs = TYPING_THROTTLE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a `start`; true when it should be forwarded (the first, or one after the throttle window). */
  start(key: string): boolean {
    const existing = this.entries.get(key)
    const now = this.now()
    if (existing) clearTimeout(existing.expiry)
    const forward = !existing || now - existing.lastForwarded >= this.throttleMs
    const expiry = setTimeout(() => {
      this.entries.delete(key)
      this.onExpire(key)
    }, this.ttlMs)
    expiry.unref()
    this.entries.set(key, { lastForwarded: forward ? now : (existing?.lastForwarded ?? now), expiry })
    return forward
  }

  /** Records a `stop`; true when the sender was typing, so the others should hear it. */
  stop(key: string): boolean {
    const existing = this.entries.get(key)
    if (!existing) return false
    clearTimeout(existing.expiry)
    this.entries.delete(key)
    return true
  }

  /** Forgets everything without announcing (shutdown). */
  clear(): void {
    for (const entry of this.entries.values()) clearTimeout(entry.expiry)
    this.entries.clear()
  }
}

export interface TypingPorts {
  groups: GroupStore
  users: UserStore
  hub: Hub
}

type TypingState = TypingOut['state']

const typingKey = (userId: number, conversation: Conversation) =>
  conversation.kind === 'group' ? `${userId}:g:${conversation.groupId}` : `${userId}:u:${conversation.peerId}`

function conversationOfKey(key: string): [number, Conversation] {
  const [userId, kind, id] = key.split(':')
  const conversation: Conversation =
    kind === 'g' ? { kind: 'group', groupId: Number(id) } : { kind: 'direct', peerId: Number(id) }
  return [Number(userId), conversation]
}

const typingFrame = (userId: number, conversation: Conversation, state: TypingState): TypingOut =>
  conversation.kind === 'group'
    ? { type: 'typing', group_id: conversation.groupId, user_id: userId, state }
    : { type: 'typing', user_id: userId, state }

/**
 * Typing indicators: forwarded to the conversation's other participants, throttled, never stored, and
 * announced as stopped by the server when a `start` is not renewed in time.
 */
export class Typing {
  private readonly tracker: TypingTracker

  constructor(private readonly ports: TypingPorts) {
    this.tracker = new TypingTracker((key) => this.expired(key))
  }

  /** The user started or stopped typing in a conversation they take part in (refused otherwise). */
  async typed(userId: number, ref: ConversationRef, state: TypingState): Promise<void> {
    const conversation = conversationOf(ref)
    const others = await otherParticipants(this.ports, userId, conversation)
    const key = typingKey(userId, conversation)
    const forward = state === 'start' ? this.tracker.start(key) : this.tracker.stop(key)
    if (forward) this.ports.hub.publish(others, typingFrame(userId, conversation, state))
  }

  /** Forgets everyone's typing without announcing it (shutdown). */
  clear(): void {
    this.tracker.clear()
  }

  private expired(key: string): void {
    const [userId, conversation] = conversationOfKey(key)
    otherParticipants(this.ports, userId, conversation)
      .then((others) => this.ports.hub.publish(others, typingFrame(userId, conversation, 'stop')))
      .catch(() => undefined) // the conversation is gone or the user left it: nobody to tell
  }
}
