'use strict'
// Moderation example: on every MESSAGE_CREATE, read the author's roles from the cache and count
// messages per role.
//
// It subscribes on the state tree (`discord-state/…`), so each message arrives after the state
// worker applied it and the cache already has the author's member. Configured from the
// environment (DDISCORD_MESH_URL, DDISCORD_REDIS_URL, ...).
//
//   node examples/node/moderation.js [--max-events N]
//
// Prints `ready` once subscribed, a running count every 100 messages, and the final counts as
// JSON ({"<role id or @everyone>": messages}) when it stops (after N events, or Ctrl-C).
const { parseArgs } = require('node:util')
const { connect } = require('ddiscord')

async function countMessagesPerRole(client, maxEvents) {
  const counts = new Map()
  let seen = 0
  const messages = client.subscribeState('discord/*/*/MESSAGE_CREATE')
  process.once('SIGINT', () => messages.close())
  await messages.ready
  console.log('ready')
  for await (const event of messages) {
    seen++
    const author = event.data.author ?? {}
    if (event.guildId !== null && !author.bot) {
      const member = await client.cache.member(event.guildId, author.id)
      const roles = member ? member.roles.map(String) : []
      for (const role of roles.length ? roles : ['@everyone']) counts.set(role, (counts.get(role) ?? 0) + 1)
    }
    if (seen % 100 === 0) {
      const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 5)
      console.log(`${seen} messages: ${JSON.stringify(Object.fromEntries(top))}`)
    }
    if (maxEvents !== undefined && seen >= maxEvents) break
  }
  return counts
}

async function main() {
  const { values } = parseArgs({ options: { 'max-events': { type: 'string' } } })
  const maxEvents = values['max-events'] === undefined ? undefined : Number(values['max-events'])
  const client = await connect()
  try {
    const counts = await countMessagesPerRole(client, maxEvents)
    console.log(JSON.stringify(Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))))
  } finally {
    await client.close()
  }
}

main().catch((err) => {
  console.error(`moderation: ${err.code ?? 'error'}: ${err.message}`)
  process.exit(1)
})
