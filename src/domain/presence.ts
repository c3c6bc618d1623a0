import type { PresenceOut } from '../schemas/frames/index.js'
import { requireContact } from './chats.js'
import type { ChatStore, Hub, UserStore } from './ports.js'
import { getUser } from './users.js'

/**
 * Counts each user's open sockets in this process: a user is online while any is open. Reports only
 * the changes (first socket opened, last socket closed), so contacts hear once per change.
 */
export class PresenceTracker {
  private readonly sockets = new Map<number, number>()

  /** Records an opened socket; true when the user just came online. */
  opened(userId: number): boolean {
    const count = (this.sockets.get(userId) ?? 0) + 1
    this.sockets.set(userId, count)
    return count === 1
  }

  /** Records a closed socket; true when the user just went offline. */
  closed(userId: number): boolean {
    const count = (this.sockets.get(userId) ?? 0) - 1
    if (count > 0) {
      this.sockets.set(userId, count)
      return false
    }
    this.sockets.delete(userId)
    return true
  }

  isOnline(userId: number): boolean {
    return this.sockets.has(userId)
  }
}

export interface PresencePorts {
  chats: ChatStore
  users: UserStore
  hub: Hub
}

/** Presence: tells a user's contacts when they come online or go offline, and answers who is online. */
export class Presence {
  private readonly tracker = new PresenceTracker()

  constructor(private readonly ports: PresencePorts) {}

  /** A socket of the user opened: their contacts hear of it when it is the user's first. */
  async connected(userId: number): Promise<void> {
    if (this.tracker.opened(userId)) await this.announce(userId, true)
  }

  /** A socket of the user closed: their contacts hear of it when it was the user's last anywhere. */
  async disconnected(userId: number): Promise<void> {
    // With several instances the user may still have sockets elsewhere: only then is it a change.
    if (this.tracker.closed(userId) && !this.ports.hub.isOnline(userId)) await this.announce(userId, false)
  }

  /** Whether a user is online, for a viewer who may see it (themselves or a contact; 403 otherwise). */
  async of(viewerId: number, userId: number): Promise<{ user_id: number; online: boolean }> {
    await getUser(this.ports.users, userId, viewerId)
    await requireContact(this.ports.chats, viewerId, userId)
    return { user_id: userId, online: this.ports.hub.isOnline(userId) }
  }

  private async announce(userId: number, online: boolean): Promise<void> {
    const contacts = await this.ports.chats.contactsOf(userId)
    const frame: PresenceOut = { type: 'presence', user_id: userId, online }
    this.ports.hub.publish(contacts, frame)
  }
}
