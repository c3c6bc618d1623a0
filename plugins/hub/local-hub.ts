import type { ServerFrame } from '../../src/schemas/frames/index.js'
import type { Hub, HubConnection } from '../../src/domain/ports.js'

/**
 * The in-process hub: every connection of this process, indexed by user. A frame is serialized
 * once per publish and the same buffer goes to every receiving socket.
 */
export class LocalHub implements Hub {
  private readonly connectionsByUser = new Map<number, Set<HubConnection>>()
  private connections = 0

  attach(connection: HubConnection): () => void {
    let userConnections = this.connectionsByUser.get(connection.userId)
    if (!userConnections) {
      userConnections = new Set()
      this.connectionsByUser.set(connection.userId, userConnections)
    }
    userConnections.add(connection)
    this.connections += 1
    let attached = true
    return () => {
      if (!attached) return
      attached = false
      this.connections -= 1
      const current = this.connectionsByUser.get(connection.userId)
      current?.delete(connection)
      if (current?.size === 0) this.connectionsByUser.delete(connection.userId)
    }
  }

  /** Returns the number of sockets it handed the frame to. */
  publish(userIds: Iterable<number>, frame: ServerFrame, except?: HubConnection): number {
    let serialized: Buffer | undefined
    let delivered = 0
    for (const userId of userIds) {
      const userConnections = this.connectionsByUser.get(userId)
      if (!userConnections) continue
      serialized ??= Buffer.from(JSON.stringify(frame))
      for (const connection of userConnections) {
        if (connection !== except) {
          connection.sendSerialized(serialized)
          delivered += 1
        }
      }
    }
    return delivered
  }

  /**
   * Delivers an already-serialized frame to this process's sockets of the listed users, except one;
   * returns the number of sockets it handed the frame to.
   */
  deliver(userIds: Iterable<number>, serialized: Buffer, except?: HubConnection): number {
    let delivered = 0
    for (const userId of userIds) {
      const userConnections = this.connectionsByUser.get(userId)
      if (!userConnections) continue
      for (const connection of userConnections) {
        if (connection !== except) {
          connection.sendSerialized(serialized)
          delivered += 1
        }
      }
    }
    return delivered
  }

  publishToUser(userId: number, frame: ServerFrame, except?: HubConnection): number {
    return this.publish([userId], frame, except)
  }

  isOnline(userId: number): boolean {
    return this.connectionsByUser.has(userId)
  }

  connectionCount(): number {
    return this.connections
  }
}
