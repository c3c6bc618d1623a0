import WebSocket from 'ws'
import { Histogram, wallMs, type HistogramData } from '../lib/histogram.js'
import { serveIpc } from '../lib/ipc.js'

/**
 * A client process holding many WebSockets (receivers of a fan-out, listeners, idle sockets). Bench frames
 * carry `"content":"b|<seq>|<send time ms>"`; each receipt records now − send time, and a per-socket bitmap
 * of seen sequence numbers tells lost frames from duplicates.
 */

interface Tracking {
  maxSeq: number
  seen: Uint8Array[]
  unique: number
  duplicates: number
  stray: number
  latency: Histogram
  firstAt: number
  lastAt: number
}

export interface CollectResult {
  sockets: number
  expected: number
  unique: number
  lost: number
  duplicates: number
  stray: number
  firstAt: number
  lastAt: number
  latency: HistogramData
  closedDuringRun: number
}

export type SocketsApi = {
  connect(args: { url: string; tokens: string[]; concurrency: number }): Promise<{
    opened: number
    failed: number
    firstError: string | null
    ms: number
  }>
  track(args: { maxSeq: number }): void
  collect(args: { expected: number; idleMs: number; maxWaitMs: number }): Promise<CollectResult>
  frames(): { total: number; perSocketMin: number }
  close(): Promise<void>
}

const MARK = Buffer.from('"content":"b|')
const GROUP_MESSAGE = Buffer.from('"type":"group_message"')
const sockets: WebSocket[] = []
const frameCounts: number[] = []
let tracking: Tracking | undefined
let closedDuringRun = 0

/** Reads the decimal integer at `start` up to `stop` (a byte); returns [value, index of stop]. */
function readInt(data: Buffer, start: number, stop: number): [number, number] {
  let value = 0
  let index = start
  for (; index < data.length && data[index] !== stop; index++) value = value * 10 + (data[index]! - 48)
  return [value, index]
}

function onFrame(socketIndex: number, data: Buffer): void {
  const now = wallMs()
  // Only messages count: the server also sends other frames (presence, ...) that must not hide a lost one.
  if (data.indexOf(GROUP_MESSAGE) < 0) return
  frameCounts[socketIndex]! += 1
  const track = tracking
  if (!track) return
  const at = data.indexOf(MARK)
  if (at < 0) return // not a bench frame (e.g. a warm-up message)
  const [seq, bar] = readInt(data, at + MARK.length, 0x7c /* | */)
  const quote = data.indexOf(0x22 /* " */, bar + 1)
  const sentAt = Number(data.toString('latin1', bar + 1, quote))
  if (seq >= track.maxSeq) {
    track.stray += 1
    return
  }
  const seen = (track.seen[socketIndex] ??= new Uint8Array(track.maxSeq))
  if (seen[seq]) {
    track.duplicates += 1
    return
  }
  seen[seq] = 1
  track.unique += 1
  track.latency.record(now - sentAt)
  if (track.firstAt === 0) track.firstAt = now
  track.lastAt = now
}

function openOne(url: string, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}/ws?token=${encodeURIComponent(token)}`, { perMessageDeflate: false })
    ws.once('open', () => {
      const index = sockets.push(ws) - 1
      frameCounts[index] = 0
      ws.on('message', (data: Buffer) => onFrame(index, data))
      ws.on('close', () => {
        if (tracking) closedDuringRun += 1
      })
      resolve()
    })
    ws.once('unexpected-response', (_request, response) => {
      reject(new Error(`upgrade refused: HTTP ${response.statusCode}`))
      ws.terminate()
    })
    ws.once('error', reject)
  })
}

serveIpc<SocketsApi>({
  /** Opens one socket per token (tokens may repeat), at most `concurrency` handshakes in flight. */
  async connect({ url, tokens, concurrency }) {
    const started = performance.now()
    let next = 0
    let failed = 0
    let firstError: string | null = null
    await Promise.all(
      Array.from({ length: Math.min(concurrency, tokens.length) }, async () => {
        while (next < tokens.length) {
          const token = tokens[next++]!
          try {
            await openOne(url, token)
          } catch (error) {
            failed += 1
            firstError ??= (error as Error).message
          }
        }
      }),
    )
    return { opened: tokens.length - failed, failed, firstError, ms: performance.now() - started }
  },

  /** Starts recording bench frames with sequence numbers below `maxSeq`. */
  track({ maxSeq }) {
    closedDuringRun = 0
    tracking = {
      maxSeq,
      seen: [],
      unique: 0,
      duplicates: 0,
      stray: 0,
      latency: new Histogram(),
      firstAt: 0,
      lastAt: 0,
    }
  },

  /** Waits until every socket saw `expected` frames (or nothing arrived for `idleMs`), then reports and stops. */
  async collect({ expected, idleMs, maxWaitMs }) {
    const track = tracking
    if (!track) throw new Error('collect before track')
    const target = expected * sockets.length
    const deadline = Date.now() + maxWaitMs
    let last = -1
    let lastChange = Date.now()
    while (track.unique < target && Date.now() < deadline) {
      if (track.unique !== last) {
        last = track.unique
        lastChange = Date.now()
      } else if (Date.now() - lastChange > idleMs) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    tracking = undefined
    return {
      sockets: sockets.length,
      expected: target,
      unique: track.unique,
      lost: target - track.unique,
      duplicates: track.duplicates,
      stray: track.stray,
      firstAt: track.firstAt,
      lastAt: track.lastAt,
      latency: track.latency.toData(),
      closedDuringRun,
    }
  },

  /** `group_message` frames received so far, in total and by the socket that got the fewest. */
  frames() {
    return {
      total: frameCounts.reduce((a, b) => a + b, 0),
      perSocketMin: frameCounts.reduce((a, b) => Math.min(a, b), Infinity),
    }
  },

  async close() {
    for (const ws of sockets) ws.terminate()
    sockets.length = 0
  },
})
