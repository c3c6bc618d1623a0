import t from 'tap'
import { LocalHub } from '../../plugins/hub/local-hub.js'
import type { HubConnection } from '../../src/domain/ports.js'
import type { ServerFrame } from '../../src/schemas/frames/index.js'

/** A frame of any shape: these tests drive the transport, which carries whatever it is handed. */
const probe = (frame: { type: string; [field: string]: unknown }) => frame as unknown as ServerFrame

/** A stand-in socket that records every buffer the hub hands it (the hub is the unit under test). */
class FakeConnection implements HubConnection {
  readonly received: Buffer[] = []
  constructor(readonly userId: number) {}
  sendSerialized(frame: Buffer): void {
    this.received.push(frame)
  }
}

/** A frame that counts how many times JSON.stringify serialized it. */
function countingFrame(content = 'hello'): { frame: ServerFrame; serializations: () => number } {
  let count = 0
  const frame = probe({
    type: 'group_message',
    content,
    toJSON() {
      count += 1
      return { type: 'group_message', content }
    },
  })
  return { frame, serializations: () => count }
}

const decode = (buf: Buffer | undefined): unknown => (buf === undefined ? undefined : JSON.parse(buf.toString('utf8')))

t.test('a published frame reaches every connection of every listed user and nobody else', async (t) => {
  const hub = new LocalHub()
  const avaPhone = new FakeConnection(1)
  const avaLaptop = new FakeConnection(1)
  const mike = new FakeConnection(2)
  const zoe = new FakeConnection(3)
  for (const c of [avaPhone, avaLaptop, mike, zoe]) hub.attach(c)

  hub.publish([1, 2], probe({ type: 'group_message', content: 'hi all' }))

  for (const [name, c] of Object.entries({ avaPhone, avaLaptop, mike })) {
    t.equal(c.received.length, 1, `${name} got exactly one frame`)
    t.same(decode(c.received[0]), { type: 'group_message', content: 'hi all' }, `${name} got the frame's JSON`)
  }
  t.equal(zoe.received.length, 0, 'an unlisted user gets nothing')
})

t.test('a frame is serialized once and the same buffer goes to every connection', async (t) => {
  const hub = new LocalHub()
  const connections = [new FakeConnection(1), new FakeConnection(1), new FakeConnection(2), new FakeConnection(3)]
  for (const c of connections) hub.attach(c)
  const { frame, serializations } = countingFrame('once')

  hub.publish([1, 2, 3], frame)

  t.equal(serializations(), 1, 'JSON.stringify ran once for four receivers')
  const first = connections[0]?.received[0]
  t.ok(Buffer.isBuffer(first), 'a Buffer was handed over')
  for (const [index, c] of connections.entries()) {
    t.equal(c.received.length, 1, `connection ${index} got one frame`)
    t.ok(c.received[0] === first, `connection ${index} got the very same Buffer instance`)
  }
  t.same(decode(first), { type: 'group_message', content: 'once' })
})

t.test('publishing to users with no connection serializes nothing and delivers nothing', async (t) => {
  const hub = new LocalHub()
  const bystander = new FakeConnection(9)
  hub.attach(bystander)
  const { frame, serializations } = countingFrame()

  hub.publish([1, 2, 3], frame)
  hub.publish([], frame)
  hub.publishToUser(4, frame)

  t.equal(serializations(), 0, 'no serialization when nobody listens')
  t.equal(bystander.received.length, 0, 'the connected bystander gets nothing')
})

t.test('publishToUser reaches all of that user’s connections only', async (t) => {
  const hub = new LocalHub()
  const a1 = new FakeConnection(1)
  const a2 = new FakeConnection(1)
  const b = new FakeConnection(2)
  for (const c of [a1, a2, b]) hub.attach(c)

  hub.publishToUser(1, probe({ type: 'pong' }))

  t.equal(a1.received.length, 1)
  t.equal(a2.received.length, 1)
  t.ok(a1.received[0] === a2.received[0], 'same buffer for both sockets of the user')
  t.equal(b.received.length, 0)
})

t.test('detach stops delivery to that connection only, and is idempotent', async (t) => {
  const hub = new LocalHub()
  const phone = new FakeConnection(1)
  const laptop = new FakeConnection(1)
  const other = new FakeConnection(2)
  const detachPhone = hub.attach(phone)
  const detachLaptop = hub.attach(laptop)
  hub.attach(other)
  t.equal(hub.connectionCount(), 3)

  detachPhone()
  hub.publish([1, 2], probe({ type: 'group_message', content: 'after detach' }))
  t.equal(phone.received.length, 0, 'a detached connection receives nothing')
  t.equal(laptop.received.length, 1, 'the user’s other connection still receives')
  t.equal(other.received.length, 1, 'other users still receive')
  t.equal(hub.connectionCount(), 2, 'count dropped by one')

  detachPhone()
  t.equal(hub.connectionCount(), 2, 'a second detach of the same connection changes nothing')
  t.ok(hub.isOnline(1), 'the user is still online through the laptop')

  detachLaptop()
  detachLaptop()
  t.equal(hub.connectionCount(), 1, 'only the other user remains')
  t.notOk(hub.isOnline(1), 'user offline once every connection is detached')

  hub.publish([1], probe({ type: 'group_message', content: 'nobody home' }))
  t.equal(laptop.received.length, 1, 'no more frames after detaching')
  t.equal(phone.received.length, 0)
})

t.test('isOnline and connectionCount follow attach and detach of two connections for one user', async (t) => {
  const hub = new LocalHub()
  t.notOk(hub.isOnline(1), 'nobody online at first')
  t.equal(hub.connectionCount(), 0)

  const detachFirst = hub.attach(new FakeConnection(1))
  t.ok(hub.isOnline(1), 'online after the first attach')
  t.notOk(hub.isOnline(2), 'another user is not online')
  t.equal(hub.connectionCount(), 1)

  const detachSecond = hub.attach(new FakeConnection(1))
  t.ok(hub.isOnline(1))
  t.equal(hub.connectionCount(), 2, 'two sockets of one user count twice')

  detachFirst()
  t.ok(hub.isOnline(1), 'still online with one socket left')
  t.equal(hub.connectionCount(), 1)

  detachSecond()
  t.notOk(hub.isOnline(1), 'offline after the last detach')
  t.equal(hub.connectionCount(), 0)

  const detachAgain = hub.attach(new FakeConnection(1))
  t.ok(hub.isOnline(1), 'online again after re-attaching')
  t.equal(hub.connectionCount(), 1)
  detachAgain()
  t.equal(hub.connectionCount(), 0)
})

t.test('the same connection re-attached after detach receives again', async (t) => {
  const hub = new LocalHub()
  const c = new FakeConnection(5)
  const detach = hub.attach(c)
  detach()
  const detach2 = hub.attach(c)
  hub.publishToUser(5, probe({ type: 'x' }))
  t.equal(c.received.length, 1)
  detach() // the old detach must not remove the new attachment
  hub.publishToUser(5, probe({ type: 'y' }))
  t.equal(c.received.length, 2, 'a stale detach function does not cut the new attachment')
  t.equal(hub.connectionCount(), 1)
  detach2()
  t.equal(hub.connectionCount(), 0)
})

t.test('a publish can skip the connection the frame came from, and only that one', async (t) => {
  const hub = new LocalHub()
  const avaPhone = new FakeConnection(1)
  const avaLaptop = new FakeConnection(1)
  const mike = new FakeConnection(2)
  for (const c of [avaPhone, avaLaptop, mike]) hub.attach(c)

  hub.publish([1, 2], probe({ type: 'group_message', content: 'from the phone' }), avaPhone)
  t.equal(avaPhone.received.length, 0, 'the sending socket gets no echo')
  t.equal(avaLaptop.received.length, 1, "the sender's other socket still gets it")
  t.equal(mike.received.length, 1, 'other users get it')
  t.ok(avaLaptop.received[0] === mike.received[0], 'still one shared buffer')

  hub.publishToUser(1, probe({ type: 'read' }), avaLaptop)
  t.equal(avaPhone.received.length, 1, 'publishToUser reaches the non-excluded socket')
  t.equal(avaLaptop.received.length, 1, 'and skips the excluded one')
  t.equal(mike.received.length, 1, 'and nobody else')
})
