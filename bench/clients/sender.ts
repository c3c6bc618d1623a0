import { Agent, request } from 'node:http'
import { Histogram, wallMs, type LatencySummary } from '../lib/histogram.js'
import { serveIpc } from '../lib/ipc.js'

/**
 * The fan-out sender: `concurrency` keep-alive connections posting `POST /v1/messages/group/:id`, each body
 * `{"content":"b|<seq>|<send time>"}` stamped just before the request is written, so receivers in other
 * processes can time each delivery. Closed-loop (as fast as answers come) for a fixed count, or paced at a
 * fixed rate for a duration. Not autocannon: its rate limit sends each second's quota in one burst, which
 * would measure queueing behind the burst rather than latency at that rate, and it builds the first request
 * of each connection ahead of time, which would skew those timestamps.
 */

export interface SendResult {
  /** Sequence numbers handed out: 0..sent-1. */
  sent: number
  ok: number
  statuses: Record<string, number>
  errors: number
  firstError: string | null
  firstSendAt: number
  lastSendAt: number
  lastAnswerAt: number
  /** For paced runs: how far the sends fell behind their schedule at worst (ms). */
  maxBehindMs: number
  http: LatencySummary
}

export type SenderApi = {
  run(args: {
    url: string
    path: string
    token: string
    concurrency: number
    /** Closed loop: exactly this many messages. */
    count?: number
    /** Paced: this many messages per second for `seconds`. */
    rate?: number
    seconds?: number
    /** Marker of the content: 'b' frames are tracked by receivers, 'w' (warm-up) ones ignored. */
    marker: 'b' | 'w'
  }): Promise<SendResult>
}

function post(agent: Agent, url: URL, path: string, token: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        hostname: url.hostname,
        port: url.port,
        path,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${token}`,
        },
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

serveIpc<SenderApi>({
  async run({ url, path, token, concurrency, count, rate, seconds, marker }) {
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
    const target = new URL(url)
    const http = new Histogram()
    const statuses: Record<string, number> = {}
    let nextSeq = 0
    let ok = 0
    let errors = 0
    let firstError: string | null = null
    let maxBehindMs = 0
    let lastSendAt = 0
    let lastAnswerAt = 0
    const start = wallMs()
    const end = seconds !== undefined ? start + seconds * 1000 : Number.POSITIVE_INFINITY
    const interval = rate ? 1000 / rate : 0

    async function lane(): Promise<void> {
      for (;;) {
        // Claim the next sequence number first, so lanes never wait for the same slot.
        if (count !== undefined && nextSeq >= count) return
        const slot = start + nextSeq * interval
        if ((rate ? slot : wallMs()) >= end) return
        const seq = nextSeq++
        if (rate) {
          const wait = slot - wallMs()
          if (wait > 0) await sleep(wait)
          else maxBehindMs = Math.max(maxBehindMs, -wait)
        }
        const sentAt = wallMs()
        lastSendAt = Math.max(lastSendAt, sentAt)
        const body = `{"content":"${marker}|${seq}|${sentAt.toFixed(3)}"}`
        try {
          const status = await post(agent, target, path, token, body)
          statuses[status] = (statuses[status] ?? 0) + 1
          if (status >= 200 && status < 300) ok += 1
        } catch (error) {
          errors += 1
          firstError ??= (error as Error).message
        }
        const answeredAt = wallMs()
        lastAnswerAt = Math.max(lastAnswerAt, answeredAt)
        http.record(answeredAt - sentAt)
      }
    }

    await Promise.all(Array.from({ length: concurrency }, lane))
    agent.destroy()
    return {
      sent: nextSeq,
      ok,
      statuses,
      errors,
      firstError,
      firstSendAt: start,
      lastSendAt,
      lastAnswerAt,
      maxBehindMs,
      http: http.summary(),
    }
  },
})
