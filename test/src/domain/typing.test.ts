import t from 'tap'
import { PresenceTracker } from '../../../src/domain/presence.js'
import { TypingTracker } from '../../../src/domain/typing.js'

t.test('a start that is not renewed expires by itself, once', async (t) => {
  const expired: string[] = []
  const typing = new TypingTracker((key) => expired.push(key), 40, 1_000)
  t.teardown(() => typing.clear())
  t.equal(typing.start('1:g:1'), true, 'the first start is forwarded')
  await new Promise((resolve) => setTimeout(resolve, 120))
  t.same(expired, ['1:g:1'])
  t.equal(typing.stop('1:g:1'), false, 'after expiry a stop has nothing to announce')
})

t.test('renewing a start keeps it alive and forwards it only after the throttle window', async (t) => {
  let now = 0
  const expired: string[] = []
  const typing = new TypingTracker(
    (key) => expired.push(key),
    60,
    20,
    () => now,
  )
  t.teardown(() => typing.clear())
  t.equal(typing.start('k'), true)
  now = 10
  t.equal(typing.start('k'), false, 'inside the window: not forwarded')
  now = 25
  t.equal(typing.start('k'), true, 'after the window: forwarded again')
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.equal(typing.start('k'), false, 'renewed before expiry (clock unchanged)')
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.same(expired, [], 'renewal pushed the expiry back')
  t.equal(typing.stop('k'), true)
  t.equal(typing.stop('k'), false, 'a second stop is not forwarded')
  t.equal(typing.stop('other'), false, 'a stop without a start is not forwarded')
})

t.test('presence changes only on the first open and the last close', async (t) => {
  const presence = new PresenceTracker()
  t.equal(presence.opened(1), true)
  t.equal(presence.opened(1), false)
  t.equal(presence.closed(1), false)
  t.equal(presence.isOnline(1), true)
  t.equal(presence.closed(1), true)
  t.equal(presence.isOnline(1), false)
})
