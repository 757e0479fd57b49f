'use strict'
// Work-queue example: run it twice (or more) and the replicas share the events; each event's
// effect happens once even when a replica crashes mid-work.
//
// Every replica joins the consumer group `example-wq` on `discord/>`. For each job it records
// the event as done with `SET NX` on `example:wq:done:<shard>:<session>:<sequence>` (so a
// redelivered job, after a crash or a partition moving, has no second effect), appends a line to
// `example:wq:log` and acknowledges the job after that. Configured from the environment
// (DDISCORD_MESH_URL, DDISCORD_REDIS_URL, DDISCORD_SHARDS) plus:
//
// - EXAMPLE_REPLICA: this replica's name (default: the process id)
// - EXAMPLE_LEASE_TTL: seconds before a crashed replica's shards move (default 10)
//
//   node examples/node/work_queue.js
//
// Needs `ioredis` (npm install ioredis) for the example's own bookkeeping.
const Redis = require('ioredis')
const { connect } = require('ddiscord')

async function main() {
  const replica = process.env.EXAMPLE_REPLICA || String(process.pid)
  const leaseTtl = Number(process.env.EXAMPLE_LEASE_TTL || 10)
  const store = new Redis(process.env.DDISCORD_REDIS_URL || 'redis://127.0.0.1:6379')
  const client = await connect()
  const queue = client.consume('example-wq', 'discord/>', { leaseTtlMs: Math.round(leaseTtl * 1000) })
  const stop = () => queue.close()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  await queue.ready
  console.log('ready')
  for await (const job of queue) {
    const event = job.event
    const key = `example:wq:done:${event.shard}:${event.session}:${event.sequence}`
    const first = (await store.set(key, replica, 'NX')) === 'OK'
    await store.rpush('example:wq:log', `${replica} ${key} ${first ? 'first' : 'again'}`)
    if (first) await store.incr('example:wq:handled')
    await job.ack()
  }
  await client.close()
  store.disconnect()
}

main().catch((err) => {
  console.error(`work_queue: ${err.code ?? 'error'}: ${err.message}`)
  process.exit(1)
})
