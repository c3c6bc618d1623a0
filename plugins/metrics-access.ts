import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'

/** Why a scrape is refused, as the error body's code and sentence; undefined when it may read the metrics. */
export type MetricsRefusal = { code: 'MISSING_TOKEN' | 'INVALID_TOKEN'; error: string } | undefined

const digest = (text: string) => createHash('sha256').update(text).digest()

/**
 * Checks a scrape's `Authorization` header against the metrics token (when one is configured): `Bearer
 * <token>`, compared in constant time.
 */
export function metricsRefusal(authorization: string | undefined, token: string | undefined): MetricsRefusal {
  if (token === undefined) return undefined
  const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '')
  if (!match?.[1]) return { code: 'MISSING_TOKEN', error: 'The metrics need `Authorization: Bearer <METRICS_TOKEN>`.' }
  if (!timingSafeEqual(digest(match[1]), digest(token))) {
    return { code: 'INVALID_TOKEN', error: 'The metrics token is wrong.' }
  }
  return undefined
}

/**
 * `GET /metrics` on a port of its own (`METRICS_PORT`), away from the public one: a plain HTTP server
 * that answers nothing else. The metrics token, when set, is required here too.
 */
export class MetricsServer {
  private readonly server: Server

  constructor(registry: Registry, token: string | undefined) {
    this.server = createServer((request, response) => {
      const json = (statusCode: number, body: object) =>
        response.writeHead(statusCode, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body))
      const path = (request.url ?? '').split('?')[0]
      if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
        json(404, { error: `No route ${request.method} ${path}.`, code: 'ROUTE_NOT_FOUND', statusCode: 404 })
        return
      }
      const refusal = metricsRefusal(request.headers.authorization, token)
      if (refusal) {
        json(401, { ...refusal, statusCode: 401 })
        return
      }
      registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => json(500, { error: 'Internal server error.', code: 'INTERNAL_ERROR', statusCode: 500 }),
      )
    })
  }

  /** Starts listening; rejects when the port cannot be had. */
  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
  }

  /** Where it listens; undefined before `listen`. */
  address(): AddressInfo | undefined {
    const address = this.server.address()
    return address && typeof address === 'object' ? address : undefined
  }

  close(): Promise<void> {
    if (!this.server.listening) return Promise.resolve()
    this.server.closeAllConnections()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}
