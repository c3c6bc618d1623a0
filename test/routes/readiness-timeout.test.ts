import { performance } from 'node:perf_hooks'
import t from 'tap'
import { LocalHub } from '../../plugins/hub/local-hub.js'
import { build } from '../helpers.js'

/** A hub whose broker keeps its connection but never answers a round trip. */
class SilentBrokerHub extends LocalHub {
  connected(): boolean {
    return true
  }

  ping(): Promise<void> {
    return new Promise(() => undefined)
  }
}

t.test('a check that does not answer counts as down once the readiness timeout has passed', async (t) => {
  const app = await build(t, { hub: new SilentBrokerHub(), readinessTimeoutMs: 300 })
  const started = performance.now()
  const res = await app.inject('/health/ready')
  const ms = performance.now() - started
  t.equal(res.statusCode, 503)
  t.same(res.json(), { status: 'unavailable', database: 'ok', broker: 'down', sockets: 0 })
  t.ok(ms >= 250 && ms < 2_000, `answered after the timeout, not before nor long after (${Math.round(ms)} ms)`)
  t.equal((await app.inject('/ping')).statusCode, 200)
})
