import { createServer, connect, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy on an ephemeral loopback port in front of a real server (PostgreSQL, Redis), that the test
 * can freeze: connections stay open and new ones are accepted, but not a byte moves either way, as with a
 * server that hangs (or a network that drops everything) without closing anything. `thaw` lets the bytes
 * held meanwhile through, as a server that wakes up would.
 */
export class FreezableProxy {
  private frozen = false
  private readonly pairs = new Set<{ client: Socket; upstream: Socket | undefined }>()

  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
  ) {
    server.on('connection', (client) => this.accept(client))
  }

  /** Listens on 127.0.0.1 port 0, forwarding to `host:port`. */
  static async start(port: number, host = '127.0.0.1'): Promise<FreezableProxy> {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return new FreezableProxy(server, { host, port })
  }

  get port(): number {
    const address = this.server.address()
    if (!address || typeof address === 'string') throw new Error('not listening')
    return address.port
  }

  freeze(): void {
    this.frozen = true
    for (const { client, upstream } of this.pairs) {
      client.pause()
      upstream?.pause()
    }
  }

  thaw(): void {
    this.frozen = false
    for (const pair of this.pairs) {
      if (!pair.upstream) this.link(pair)
      pair.client.resume()
      pair.upstream?.resume()
    }
  }

  /** Stops listening and cuts every connection. */
  async close(): Promise<void> {
    for (const { client, upstream } of this.pairs) {
      client.destroy()
      upstream?.destroy()
    }
    this.pairs.clear()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private accept(client: Socket): void {
    const pair: { client: Socket; upstream: Socket | undefined } = { client, upstream: undefined }
    this.pairs.add(pair)
    client.on('error', () => undefined)
    client.on('close', () => {
      pair.upstream?.destroy()
      this.pairs.delete(pair)
    })
    // Accepted while frozen: held, without a byte of answer, until the thaw.
    if (this.frozen) client.pause()
    else this.link(pair)
  }

  private link(pair: { client: Socket; upstream: Socket | undefined }): void {
    const upstream = connect(this.target.port, this.target.host)
    pair.upstream = upstream
    upstream.on('error', () => pair.client.destroy())
    upstream.on('close', () => pair.client.destroy())
    pair.client.pipe(upstream)
    upstream.pipe(pair.client)
  }
}
