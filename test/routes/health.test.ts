import t from 'tap'
import { LocalHub } from '../../plugins/hub/local-hub.js'
import { build } from '../helpers.js'

/** A hub whose broker link the test switches off, as a lost Redis connection would be. */
class BrokeredHub extends LocalHub {
  up = true
  connected(): boolean {
    return this.up
  }
}

t.test('liveness and readiness', async (t) => {
  const app = await build(t)
  t.match((await app.inject('/ping')).json(), { message: 'pong' })
  t.match((await app.inject('/health/live')).json(), { message: 'pong' })
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ok', database: 'ok', broker: 'unused', sockets: 0 })
})

t.test('an instance that lost its broker reports 503 until it is back', async (t) => {
  const hub = new BrokeredHub()
  const app = await build(t, { hub })
  t.equal((await app.inject('/health/ready')).json<{ broker: string }>().broker, 'ok')
  hub.up = false
  const down = await app.inject('/health/ready')
  t.equal(down.statusCode, 503)
  t.match(down.json(), { status: 'unavailable', database: 'ok', broker: 'down' })
  hub.up = true
  t.equal((await app.inject('/health/ready')).statusCode, 200)
})
