import type { WebSocket } from 'ws'
import type { HubConnection, OutgoingFrame } from '../../src/domain/ports.js'

const TEXT_FRAME = { binary: false } as const

/** One open socket: the hub writes pre-serialized frames to it; replies are serialized here. */
export class SocketConnection implements HubConnection {
  /** Client frames are handled one after another, in the order they arrived. */
  private pending: Promise<void> = Promise.resolve()

  constructor(
    readonly userId: number,
    readonly tokenId: string,
    private readonly socket: WebSocket,
  ) {}

  sendSerialized(frame: Buffer): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(frame, TEXT_FRAME)
  }

  send(frame: OutgoingFrame): void {
    this.sendSerialized(Buffer.from(JSON.stringify(frame)))
  }

  /** Queues work behind the frames already received on this socket. */
  enqueue(work: () => Promise<void>): void {
    this.pending = this.pending.then(work)
  }
}
