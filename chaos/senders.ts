import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'

/** A registered chaos user. */
export interface ChaosUser {
  id: number
  token: string
}

export type Channel = 'rest' | 'socket' | 'retry'

/** One message a sender tried to store. `ackedId` is set once the server acknowledged it. */
export interface Sent {
  clientMsgId: string
  content: string
  sender: ChaosUser
  channel: Channel
  round: number
  ackedId?: number
  /** The code of the answer that refused it (a 429, an `error` frame): then it must not be stored. */
  refused?: string
}

/** The stored message as the API returns it (the fields the harness checks). */
export interface StoredMessage {
  id: number
  sender_id: number
  content: string
  client_msg_id: string | null
}

/** Everything sent and acknowledged, across all rounds. */
export class Ledger {
  readonly sent = new Map<string, Sent>()
  /** Answers that were neither an acknowledgement nor a dead connection, by code. */
  readonly refused = new Map<string, number>()
  /** Acknowledgements that did not match what was sent (wrong content, a replay of a first send...). */
  readonly badAcks: string[] = []

  record(sent: Sent): void {
    if (this.sent.has(sent.clientMsgId)) throw new Error(`client_msg_id ${sent.clientMsgId} reused by the harness`)
    this.sent.set(sent.clientMsgId, sent)
  }

  acknowledge(sent: Sent, message: StoredMessage, replayed: boolean, channel: string): void {
    if (replayed) this.badAcks.push(`${channel} ${sent.clientMsgId}: first send acknowledged as a duplicate`)
    if (message.client_msg_id !== sent.clientMsgId || message.content !== sent.content) {
      this.badAcks.push(`${channel} ${sent.clientMsgId}: acknowledged message ${message.id} differs from what was sent`)
    }
    sent.ackedId = message.id
  }

  refuse(sent: Sent, code: string): void {
    sent.refused = code
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1)
  }
}

/** Makes unique client_msg_ids and contents of varied length (so writes are not all the same size). */
export class MessageFactory {
  private seq = 0
  constructor(
    private readonly round: number,
    private readonly name: string,
    private readonly random: () => number,
  ) {}

  next(sender: ChaosUser, channel: Channel): Sent {
    this.seq += 1
    const clientMsgId = `r${this.round}-${this.name}-${this.seq}`
    const padding = 'x'.repeat(Math.floor(this.random() * 600))
    const content = `chaos ${clientMsgId} ${padding}`.trimEnd()
    return { clientMsgId, content, sender, channel, round: this.round }
  }
}

export interface PostResult {
  status: number
  replayed: boolean
  retryAfterMs: number
  body: unknown
}

/** POST /v1/messages/group/:groupID; throws only when the connection fails. */
export async function postMessage(
  baseUrl: string,
  groupId: number,
  sent: Pick<Sent, 'content' | 'clientMsgId' | 'sender'>,
): Promise<PostResult> {
  const res = await fetch(`${baseUrl}/v1/messages/group/${groupId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${sent.sender.token}` },
    body: JSON.stringify({ content: sent.content, client_msg_id: sent.clientMsgId }),
  })
  const body: unknown = await res.json()
  const retryAfter = Number(res.headers.get('retry-after'))
  return {
    status: res.status,
    replayed: res.headers.get('idempotent-replayed') === 'true',
    retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 1000) : 50,
    body,
  }
}

function errorCode(body: unknown, status: number): string {
  const code = (body as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : `HTTP_${status}`
}

/** Gives up after this many refusals in a row: the harness is sending something the server will never take. */
const MAX_REFUSALS_IN_A_ROW = 200

export interface SenderContext {
  baseUrl: string
  groupId: number
  ledger: Ledger
  /** True once the server has been killed: send nothing new. */
  stopped: () => boolean
  /** Open sockets, so the harness can end any that outlive the server. */
  sockets: Set<WebSocket>
}

/**
 * Posts messages over REST one after another, as fast as the server answers, until the connection
 * fails (the server was killed). Every 201 is recorded as acknowledged.
 */
export async function restSender(context: SenderContext, sender: ChaosUser, factory: MessageFactory): Promise<void> {
  let refusalsInARow = 0
  while (!context.stopped()) {
    const sent = factory.next(sender, 'rest')
    context.ledger.record(sent)
    let result: PostResult
    try {
      result = await postMessage(context.baseUrl, context.groupId, sent)
    } catch {
      return // the server is gone; this send stays unacknowledged
    }
    if (result.status === 201) {
      refusalsInARow = 0
      context.ledger.acknowledge(sent, result.body as StoredMessage, result.replayed, 'rest')
      continue
    }
    context.ledger.refuse(sent, errorCode(result.body, result.status))
    refusalsInARow += 1
    if (refusalsInARow >= MAX_REFUSALS_IN_A_ROW) return
    if (result.status === 429) await sleep(result.retryAfterMs)
  }
}

interface Frame {
  type?: unknown
  ref?: unknown
  code?: unknown
  duplicate?: unknown
  message?: StoredMessage
}

/**
 * Sends `group_message` frames over one socket, keeping `window` of them in flight, until the socket
 * closes (the server was killed). Every `ack` is recorded as acknowledged.
 */
export function socketSender(
  context: SenderContext,
  sender: ChaosUser,
  factory: MessageFactory,
  window: number,
): Promise<void> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`${context.baseUrl.replace(/^http/, 'ws')}/ws?token=${sender.token}`)
    context.sockets.add(socket)
    const inFlight = new Map<string, Sent>()
    let ref = 0
    let refusalsInARow = 0
    let pausedUntil = 0

    const fill = (): void => {
      while (!context.stopped() && socket.readyState === WebSocket.OPEN && inFlight.size < window) {
        if (Date.now() < pausedUntil) {
          setTimeout(fill, pausedUntil - Date.now())
          return
        }
        const sent = factory.next(sender, 'socket')
        context.ledger.record(sent)
        ref += 1
        inFlight.set(String(ref), sent)
        socket.send(
          JSON.stringify({
            type: 'group_message',
            group_id: context.groupId,
            content: sent.content,
            client_msg_id: sent.clientMsgId,
            ref: String(ref),
          }),
        )
      }
    }

    socket.on('open', fill)
    socket.on('message', (data) => {
      const text = data.toString()
      // The fan-out of every message in the group (ours included): not what this sender waits for.
      if (text.startsWith('{"type":"group_message"')) return
      const frame = JSON.parse(text) as Frame
      const sent = typeof frame.ref === 'string' ? inFlight.get(frame.ref) : undefined
      if (!sent || typeof frame.ref !== 'string') return
      inFlight.delete(frame.ref)
      if (frame.type === 'ack' && frame.message) {
        refusalsInARow = 0
        context.ledger.acknowledge(sent, frame.message, frame.duplicate === true, 'socket')
      } else {
        const code = typeof frame.code === 'string' ? frame.code : `FRAME_${String(frame.type)}`
        context.ledger.refuse(sent, code)
        refusalsInARow += 1
        if (refusalsInARow >= MAX_REFUSALS_IN_A_ROW) socket.close()
        if (/RATE|LIMIT/.test(code)) pausedUntil = Date.now() + 50
      }
      fill()
    })
    socket.on('error', () => {}) // followed by 'close'
    socket.on('close', () => {
      context.sockets.delete(socket)
      resolve()
    })
  })
}
