import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { SocketsApi } from '../clients/sockets.js'
import type { BenchConfig } from './config.js'
import type { IpcClient } from './ipc.js'
import { repoRoot, startClient, stopProcess } from './procs.js'
import type { SeedLayout } from './seed.js'

/** What every scenario gets: sizes, the pre-filled database, a token per user, and the report. */
export interface BenchContext {
  config: BenchConfig
  workDir: string
  dbFile: string
  layout: SeedLayout
  /** token by user id */
  tokens: Map<number, string>
  emit(line: Record<string, unknown>): void
  /** The lines emitted so far in this run (a scenario may compare with an earlier one's figures). */
  emitted: Record<string, unknown>[]
}

export const resultsDir = join(repoRoot, 'bench', 'results')

/** Prints each scenario's line and appends it to results/<timestamp>.jsonl and results/latest.jsonl. */
export function createReporter(startedAt: Date): { emit: (line: Record<string, unknown>) => void; file: string } {
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.jsonl`)
  const latest = join(resultsDir, 'latest.jsonl')
  writeFileSync(latest, '')
  return {
    file,
    emit(line) {
      const text = `${JSON.stringify(line)}\n`
      process.stdout.write(text)
      appendFileSync(file, text)
      appendFileSync(latest, text)
    },
  }
}

/** Things to stop at the end of a scenario, in reverse order, whatever happened. */
export class Scope {
  private readonly stops: (() => Promise<void>)[] = []

  add(stop: () => Promise<void>): void {
    this.stops.push(stop)
  }

  async close(): Promise<void> {
    for (const stop of this.stops.reverse()) {
      try {
        await stop()
      } catch (error) {
        console.error(`bench: cleanup step failed: ${(error as Error).message}`)
      }
    }
    this.stops.length = 0
  }
}

export type SocketClients = IpcClient<SocketsApi>[]

/** Starts `count` socket client processes, stopped with the scope. */
export function startSocketClients(scope: Scope, count: number): SocketClients {
  const clients = Array.from({ length: count }, (_, i) =>
    startClient<SocketsApi>(`sockets-${i + 1}`, 'clients/sockets.js'),
  )
  scope.add(async () => {
    await Promise.all(clients.map((client) => client.call('close', undefined).catch(() => {})))
    await Promise.all(clients.map((client) => stopProcess(client.child, 5000)))
  })
  return clients
}

/**
 * Opens one socket per token, the tokens dealt round-robin over the clients, all clients at once;
 * resolves with the wall time until the last one is open.
 */
export async function connectAll(
  clients: SocketClients,
  wsUrl: string,
  tokens: string[],
  concurrencyPerClient = 64,
): Promise<{ opened: number; failed: number; firstError: string | null; ms: number }> {
  const shares = clients.map((_, i) => tokens.filter((_, j) => j % clients.length === i))
  const started = performance.now()
  const results = await Promise.all(
    clients.map((client, i) =>
      client.call('connect', { url: wsUrl, tokens: shares[i]!, concurrency: concurrencyPerClient }),
    ),
  )
  return {
    opened: results.reduce((sum, r) => sum + r.opened, 0),
    failed: results.reduce((sum, r) => sum + r.failed, 0),
    firstError: results.find((r) => r.firstError)?.firstError ?? null,
    ms: performance.now() - started,
  }
}

/** `n` tokens taken round-robin from users first..last (several sockets per user are allowed). */
export function tokensFor(ctx: BenchContext, first: number, last: number, n: number): string[] {
  const span = last - first + 1
  return Array.from({ length: n }, (_, i) => {
    const token = ctx.tokens.get(first + (i % span))
    if (!token) throw new Error(`no token for user ${first + (i % span)}`)
    return token
  })
}

/**
 * Measures the floor and the server in alternating rounds (floor, server, floor, server, ...): other work
 * on a shared machine then slows both alike, and the best round of each is the least disturbed.
 */
export async function alternate<F, S>(
  rounds: number,
  floor: () => Promise<F>,
  server: () => Promise<S>,
): Promise<{ floor: F[]; server: S[] }> {
  const results = { floor: [] as F[], server: [] as S[] }
  for (let round = 0; round < Math.max(1, rounds); round++) {
    results.floor.push(await floor())
    results.server.push(await server())
  }
  return results
}

/** The round with the highest `score`. */
export function bestOf<T>(runs: T[], score: (run: T) => number): T {
  if (runs.length === 0) throw new Error('no rounds')
  return runs.reduce((a, b) => (score(b) > score(a) ? b : a))
}
