import fp from 'fastify-plugin'
import type { Hub } from '../../src/domain/ports.js'
import '../types.js'
import { LocalHub } from './local-hub.js'

/** `fastify.hub`: realtime fan-out. In-process unless another implementation is passed in. */
export default fp<{ hub?: Hub }>(
  async (fastify, options) => {
    fastify.decorate('hub', options.hub ?? new LocalHub())
  },
  { name: 'chatserver-hub' },
)
