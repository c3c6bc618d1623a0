import type { ChildProcess } from 'node:child_process'

/**
 * A tiny typed RPC over Node's IPC channel: the orchestrator calls `child.call('connect', args)`; the child
 * process answers with its handler's result. Every client process (sockets, senders, load generators, floors)
 * speaks it, so the orchestrator only coordinates and never carries load itself.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Api = Record<string, (args: any) => unknown>

interface CallMessage {
  id: number
  cmd: string
  args: unknown
}
type ReplyMessage = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string }

/** In a child process: answer calls with `handlers`, and exit when the orchestrator goes away. */
export function serveIpc<A extends Api>(handlers: A): void {
  if (!process.send) throw new Error('this script is a bench client: start it from bench/run')
  const send = process.send.bind(process)
  process.on('message', (message: CallMessage) => {
    const handler = handlers[message.cmd]
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${message.cmd}`)
        return handler(message.args)
      })
      .then(
        (result) => send({ id: message.id, ok: true, result } satisfies ReplyMessage),
        (error: unknown) =>
          send({
            id: message.id,
            ok: false,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          } satisfies ReplyMessage),
      )
  })
  // Orphaned (the orchestrator died or closed the channel): nothing left to do.
  process.on('disconnect', () => process.exit(0))
  send({ id: 0, ok: true, result: 'ready' } satisfies ReplyMessage)
}

/** The orchestrator's handle on a child serving `A`. */
export class IpcClient<A extends Api> {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  readonly ready: Promise<void>

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    let onReady: () => void = () => {}
    let onEarlyExit: (error: Error) => void = () => {}
    this.ready = new Promise((resolve, reject) => {
      onReady = resolve
      onEarlyExit = reject
    })
    this.ready.catch(() => {}) // surfaced by call(); not an unhandled rejection meanwhile
    child.on('message', (message: ReplyMessage) => {
      if (message.id === 0) return onReady()
      const waiter = this.pending.get(message.id)
      if (!waiter) return
      this.pending.delete(message.id)
      if (message.ok) waiter.resolve(message.result)
      else waiter.reject(new Error(`${name}: ${message.error}`))
    })
    child.on('exit', (code, signal) => {
      const error = new Error(`${name} exited (${signal ?? code})`)
      onEarlyExit(error)
      for (const waiter of this.pending.values()) waiter.reject(error)
      this.pending.clear()
    })
  }

  async call<K extends keyof A & string>(cmd: K, args: Parameters<A[K]>[0]): Promise<Awaited<ReturnType<A[K]>>> {
    await this.ready
    const id = this.nextId++
    return new Promise<Awaited<ReturnType<A[K]>>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.child.send({ id, cmd, args } satisfies CallMessage)
    })
  }
}
