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
