import { OWASP_ARGON2ID } from '../../src/options.js'
import type { Argon2FloorApi } from '../floors/argon2-verify.js'
import { alternate, bestOf, Scope, type BenchContext } from '../lib/context.js'
import { round } from '../lib/histogram.js'
import { startClient, stopProcess } from '../lib/procs.js'
import { emailOf, PASSWORD } from '../lib/seed.js'
import { startChatServer } from '../lib/server.js'
import { startLoad } from './send.js'

/**
 * Scenario 5, login: autocannon posting `POST /v1/users/login` (an argon2id verification on every call,
 * slow on purpose). The parameters reported are read from the hash the server itself stored when user 1
 * registered, next to the defaults in src/options.ts. Floor: bare argon2 verifications of that hash at the
 * same concurrency in one process (libuv's thread pool, like the server). Alternating rounds, best of each.
 */

/** `$argon2id$v=19$m=19456,t=2,p=1$salt$hash` (m, t, p in any order) → its parameters. */
function argon2Parameters(hash: string) {
  const [, type, version, params] = hash.split('$')
  const values = Object.fromEntries((params ?? '').split(',').map((pair) => pair.split('=') as [string, string]))
  return {
    type,
    version: Number(version?.replace('v=', '')),
    memory_kib: Number(values.m),
    time_cost: Number(values.t),
    parallelism: Number(values.p),
  }
}

export async function login(ctx: BenchContext): Promise<void> {
  const { config } = ctx
  const scope = new Scope()
  try {
    const floorProcess = startClient<Argon2FloorApi>('argon2-floor', 'floors/argon2-verify.js')
    scope.add(() => stopProcess(floorProcess.child, 5000))
    const server = await startChatServer({ dbFile: ctx.dbFile, workDir: ctx.workDir })
    scope.add(() => server.stop())
    const load = startLoad(scope)
    const args = {
      url: server.url,
      method: 'POST' as const,
      path: '/v1/users/login',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: emailOf(1), password: PASSWORD }),
      connections: config.login.connections,
    }
    await load.call('run', { ...args, seconds: 1 })
    const floorArgs = {
      hash: ctx.layout.passwordHash,
      password: PASSWORD,
      concurrency: config.login.connections,
      seconds: config.login.seconds,
    }
    const runs = await alternate(
      config.rounds,
      () => floorProcess.call('run', floorArgs),
      () => load.call('run', { ...args, seconds: config.login.seconds }),
    )
    const result = bestOf(runs.server, (run) => run.rps)
    const floor = bestOf(runs.floor, (run) => run.per_s)
    const ratio = floor.per_s > 0 ? round(result.rps / floor.per_s) : null
    ctx.emit({
      scenario: 'login',
      connections: config.login.connections,
      seconds: config.login.seconds,
      rounds: runs.server.length,
      logins_per_s: round(result.rps, 1),
      requests: result.requests,
      non_2xx: result.requests - result.ok,
      latency: result.latency,
      rounds_logins_per_s: runs.server.map((run) => round(run.rps, 1)),
      argon2: { ...argon2Parameters(ctx.layout.passwordHash), configured_default: OWASP_ARGON2ID },
      uv_threadpool_size: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
      floor: {
        verifies_per_s: round(floor.per_s, 1),
        latency: floor.latency,
        rounds_verifies_per_s: runs.floor.map((run) => round(run.per_s, 1)),
      },
      ratio_to_floor: ratio,
      target: 'none (argon2id is slow on purpose): logins/s and the parameters',
    })
  } finally {
    await scope.close()
  }
}
