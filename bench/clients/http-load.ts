import autocannon, { type Request } from 'autocannon'
import { Histogram, type LatencySummary } from '../lib/histogram.js'
import { serveIpc } from '../lib/ipc.js'

/**
 * HTTP load with autocannon, in its own process. Latencies go into the bench's 10 µs histogram from
 * autocannon's per-response event (its built-in histogram has whole-millisecond resolution).
 */

export interface LoadResult {
  seconds: number
  requests: number
  ok: number
  /** 2xx answers per second. */
  rps: number
  statuses: Record<string, number>
  errors: number
  timeouts: number
  latency: LatencySummary
}

export type HttpLoadApi = {
  run(args: {
    url: string
    method: 'GET' | 'POST'
    path: string
    headers?: Record<string, string>
    body?: string
    connections: number
    seconds: number
    /** GET a history page of a random group in [firstGroup, lastGroup] before a random id in [1, maxId]. */
    randomHistory?: { firstGroup: number; lastGroup: number; maxId: number }
  }): Promise<LoadResult>
}

const randomInt = (low: number, high: number) => low + Math.floor(Math.random() * (high - low + 1))

serveIpc<HttpLoadApi>({
  run({ url, method, path, headers = {}, body, connections, seconds, randomHistory }) {
    const histogram = new Histogram()
    const statuses: Record<string, number> = {}
    const request: Request = { method, path, headers, ...(body !== undefined ? { body } : {}) }
    if (randomHistory) {
      const { firstGroup, lastGroup, maxId } = randomHistory
      request.setupRequest = (req) => ({
        ...req,
        path: `/v1/groups/${randomInt(firstGroup, lastGroup)}/messages?before_id=${randomInt(2, maxId + 1)}`,
      })
    }
    return new Promise<LoadResult>((resolve, reject) => {
      const instance = autocannon({ url, connections, duration: seconds, requests: [request] }, (error, result) => {
        if (error) return reject(error)
        resolve({
          seconds: result.duration,
          requests: result.requests.total,
          ok: result['2xx'],
          rps: result['2xx'] / result.duration,
          statuses,
          errors: result.errors,
          timeouts: result.timeouts,
          latency: histogram.summary(),
        })
      })
      instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
        statuses[statusCode] = (statuses[statusCode] ?? 0) + 1
        histogram.record(responseTime)
      })
    })
  },
})
